// admin_audit.cc — `audit verify [--from-checkpoint FILE]` and `audit checkpoint` (admin_audit.h;
// the checkpoint file and its signature: ca/audit_checkpoint.h; the walk: db/audit.h).
#include "daemon/admin_audit.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>

#include "ca/audit_checkpoint.h"
#include "ca/cert.h"
#include "ca/encoding.h"
#include "daemon/admin_tidy.h"
#include "daemon/ca_key_source.h"
#include "daemon/cli_error.h"
#include "daemon/files.h"
#include "daemon/generation_signing.h"
#include "db/store.h"

namespace provisiond {
namespace {

using cli::Error;

// The checkpoint named by --from-checkpoint, its signature checked under the root of any CA
// generation in the state dir (one signed before a rollover stays valid after `ca retire`).
base::Result<SignedCheckpoint> LoadCheckpoint(const AdminOptions& o) {
  auto text = ReadFile(o.checkpoint_file, ca::kMaxCheckpointBytes + 1);
  if (!text) return std::unexpected(text.error());
  auto roots = LoadGenerationRoots(o.state_dir);
  if (!roots) return std::unexpected(roots.error());
  auto checkpoint = VerifyCheckpointUnderAny(*text, *roots);
  if (!checkpoint) {
    return base::Fail(base::Code::kInvalidArgument,
                      o.checkpoint_file + ": " + checkpoint.error().detail);
  }
  return *checkpoint;
}

struct Verified {
  db::AuditReport report;
  int64_t rows = 0;     // rows in the chain up to its head: the checkpoint's count + the rows after
  int64_t head_id = 0;  // the newest row's id (when ok: ids are consecutive, from 1 or the start)
};

// The whole chain (and the state cross-check), or the chain from `from` on.
std::optional<Verified> Verify(db::Store& store, const std::optional<ca::AuditCheckpoint>& from,
                               std::string* error) {
  auto report = from ? store.VerifyAuditChainFrom(from->id, from->row_hash)
                     : store.VerifyAuditChain();
  if (!report) {
    *error = report.error().detail;
    return std::nullopt;
  }
  // The head's id as the walk read it (not first_id + rows - 1 from a second statement, which a
  // tidy in between would make wrong). A chain tidy truncated starts above row 1: the rows up to
  // its head count the removed ones too, as tidy's own checkpoints do (rows = id).
  Verified v{.report = *report, .rows = report->head_id, .head_id = report->head_id};
  if (from) v.rows = from->rows + report->rows_checked - 1;
  return v;
}

// Prints the verdict; true when the chain is whole.
bool PrintVerdict(const Verified& v, const std::optional<SignedCheckpoint>& signed_from) {
  std::optional<ca::AuditCheckpoint> from;
  if (signed_from) from = signed_from->checkpoint;
  const db::AuditReport& r = v.report;
  if (!r.ok) {
    if (r.first_bad_id) {
      std::printf("audit chain BROKEN at row %lld: %s\n", static_cast<long long>(*r.first_bad_id),
                  r.problem.c_str());
    } else {
      std::printf("audit chain BROKEN: %s\n", r.problem.c_str());
    }
    return false;
  }
  if (from) {
    std::printf("audit chain ok from checkpoint row %lld (%s, signed by CA generation %lld): %lld "
                "rows checked, %lld rows in all, head %s (row %lld)\n",
                static_cast<long long>(from->id), from->time.c_str(),
                static_cast<long long>(signed_from->gen),
                static_cast<long long>(r.rows_checked), static_cast<long long>(v.rows),
                r.head_hash.c_str(), static_cast<long long>(v.head_id));
  } else {
    std::printf("audit chain ok: %lld rows, head %s\n", static_cast<long long>(r.rows_checked),
                r.head_hash.c_str());
  }
  return true;
}

std::unique_ptr<db::Store> OpenStore(const StoreLocation& location, std::string* error) {
  auto store = location.Open();
  if (!store) {
    *error = "database: " + store.error().detail;
    return nullptr;
  }
  return std::move(*store);
}

struct Signed {
  std::string text;
  int64_t gen = 1;
};

// Signs the head of `v` into a checkpoint file with the active CA generation's key (file or
// token; the store says which generation is active).
base::Result<Signed> SignHead(const AdminOptions& o, db::Store& store, const Verified& v) {
  auto gen = ActiveGeneration(store);
  if (!gen) return std::unexpected(gen.error());
  auto signer = GenerationSigner::Open(o.state_dir, *gen, o.ca_key);
  if (!signer) return std::unexpected(signer.error());
  auto text = signer->Checkpoint({.id = v.head_id,
                                  .row_hash = v.report.head_hash,
                                  .rows = v.rows,
                                  .time = ca::Iso8601(std::time(nullptr))});
  if (!text) return std::unexpected(text.error());
  return Signed{.text = std::move(*text), .gen = *gen};
}

// Both commands: the checkpoint named by --from-checkpoint (checked before the store is opened),
// then the walk, whole or from it. nullopt with `err` set on any failure to get a verdict.
std::optional<Verified> LoadAndVerify(const AdminOptions& o, const StoreLocation& location,
                                      std::optional<SignedCheckpoint>& from, std::string* err) {
  if (!o.checkpoint_file.empty()) {
    auto loaded = LoadCheckpoint(o);
    if (!loaded) {
      *err = loaded.error().detail;
      return std::nullopt;
    }
    from = *loaded;
  }
  auto store = OpenStore(location, err);
  if (!store) return std::nullopt;
  std::optional<ca::AuditCheckpoint> start;
  if (from) start = from->checkpoint;
  return Verify(*store, start, err);
}

}  // namespace

int AuditVerify(const AdminOptions& o, const StoreLocation& location) {
  std::optional<SignedCheckpoint> from;
  std::string err;
  auto verified = LoadAndVerify(o, location, from, &err);
  if (!verified) return Error(err);
  if (!from && verified->report.ok) {
    // A chain tidy truncated starts at a row whose link below is vouched for by a signed
    // checkpoint (daemon/admin_tidy.h).
    auto store = OpenStore(location, &err);
    if (!store) return Error(err);
    if (auto problem = ChainBaseProblem(*store, o.state_dir)) {
      std::printf("audit chain BROKEN: %s\n", problem->c_str());
      return 1;
    }
  }
  return PrintVerdict(*verified, from) ? 0 : 1;
}

int AuditCheckpoint(const AdminOptions& o, const StoreLocation& location) {
  std::optional<SignedCheckpoint> from;
  std::string err;
  auto verified = LoadAndVerify(o, location, from, &err);
  if (!verified) return Error(err);
  if (!verified->report.ok) {
    PrintVerdict(*verified, from);
    return Error("audit checkpoint: the chain does not verify; no checkpoint written");
  }
  if (verified->head_id == 0) return Error("audit checkpoint: the chain is empty");
  auto store = OpenStore(location, &err);
  if (!store) return Error(err);
  auto signed_head = SignHead(o, *store, *verified);
  if (!signed_head) return Error(signed_head.error().detail);
  if (o.out.empty()) {
    std::fputs(signed_head->text.c_str(), stdout);
    return 0;
  }
  const std::string tmp = o.out + ".tmp." + std::to_string(::getpid());
  if (auto w = WriteNewFile(tmp, signed_head->text, 0644); !w) return Error(w.error().detail);
  if (std::rename(tmp.c_str(), o.out.c_str()) != 0) return Error("rename to " + o.out);
  std::printf("wrote audit checkpoint at row %lld (%lld rows, head %s) to %s, signed by CA "
              "generation %lld\n",
              static_cast<long long>(verified->head_id),
              static_cast<long long>(verified->rows), verified->report.head_hash.c_str(),
              o.out.c_str(), static_cast<long long>(signed_head->gen));
  return 0;
}

}  // namespace provisiond
