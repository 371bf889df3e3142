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
#include "db/store.h"

namespace provisiond {
namespace {

using cli::Error;

// The checkpoint named by --from-checkpoint, its signature checked under the state dir's ca.crt.
base::Result<ca::AuditCheckpoint> LoadCheckpoint(const AdminOptions& o) {
  auto text = ReadFile(o.checkpoint_file, ca::kMaxCheckpointBytes + 1);
  if (!text) return std::unexpected(text.error());
  StatePaths paths(o.state_dir);
  auto cert_pem = ReadFile(paths.ca_cert);
  if (!cert_pem) return std::unexpected(cert_pem.error());
  auto crt = ca::ParseCertificates(*cert_pem);
  if (!crt) return base::Fail(base::Code::kInvalidArgument, paths.ca_cert + ": " + crt.error().detail);
  auto checkpoint = ca::VerifyAuditCheckpoint(*text, *(*crt)->get());
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
  Verified v{.report = *report, .rows = report->rows_checked, .head_id = report->rows_checked};
  if (from) {
    v.rows = from->rows + report->rows_checked - 1;
    v.head_id = from->id + report->rows_checked - 1;
  }
  return v;
}

// Prints the verdict; true when the chain is whole.
bool PrintVerdict(const Verified& v, const std::optional<ca::AuditCheckpoint>& from) {
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
    std::printf("audit chain ok from checkpoint row %lld (%s): %lld rows checked, %lld rows in "
                "all, head %s (row %lld)\n",
                static_cast<long long>(from->id), from->time.c_str(),
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

// Signs the head of `v` into a checkpoint file with the state dir's CA key (file or token).
base::Result<std::string> SignHead(const AdminOptions& o, const Verified& v) {
  StatePaths paths(o.state_dir);
  auto cert_pem = ReadFile(paths.ca_cert);
  if (!cert_pem) return std::unexpected(cert_pem.error());
  auto crt = ca::ParseCertificates(*cert_pem);
  if (!crt) return base::Fail(base::Code::kInvalidArgument, paths.ca_cert + ": " + crt.error().detail);
  auto drbg = ca::Drbg::FromSystemEntropy();
  if (!drbg) return base::Fail(base::Code::kInternal, drbg.error().detail);
  auto source = CaKeySource::Open(paths, o.ca_key, (*drbg)->rng());
  if (!source) return std::unexpected(source.error());
  auto key = (*source)->NewKey((*drbg)->rng());
  if (!key) return std::unexpected(key.error());
  ca::AuditCheckpoint checkpoint{.id = v.head_id,
                                 .row_hash = v.report.head_hash,
                                 .rows = v.rows,
                                 .time = ca::Iso8601(std::time(nullptr))};
  auto text = ca::SignAuditCheckpoint(checkpoint, *(*crt)->get(), **key, (*drbg)->rng());
  if (!text) return base::Fail(base::Code::kInternal, text.error().detail);
  return *text;
}

// Both commands: the checkpoint named by --from-checkpoint (checked before the store is opened),
// then the walk, whole or from it. nullopt with `err` set on any failure to get a verdict.
std::optional<Verified> LoadAndVerify(const AdminOptions& o, const StoreLocation& location,
                                      std::optional<ca::AuditCheckpoint>& from, std::string* err) {
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
  return Verify(*store, from, err);
}

}  // namespace

int AuditVerify(const AdminOptions& o, const StoreLocation& location) {
  std::optional<ca::AuditCheckpoint> from;
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
  std::optional<ca::AuditCheckpoint> from;
  std::string err;
  auto verified = LoadAndVerify(o, location, from, &err);
  if (!verified) return Error(err);
  if (!verified->report.ok) {
    PrintVerdict(*verified, from);
    return Error("audit checkpoint: the chain does not verify; no checkpoint written");
  }
  if (verified->head_id == 0) return Error("audit checkpoint: the chain is empty");
  auto text = SignHead(o, *verified);
  if (!text) return Error(text.error().detail);
  if (o.out.empty()) {
    std::fputs(text->c_str(), stdout);
    return 0;
  }
  const std::string tmp = o.out + ".tmp." + std::to_string(::getpid());
  if (auto w = WriteNewFile(tmp, *text, 0644); !w) return Error(w.error().detail);
  if (std::rename(tmp.c_str(), o.out.c_str()) != 0) return Error("rename to " + o.out);
  std::printf("wrote audit checkpoint at row %lld (%lld rows, head %s) to %s\n",
              static_cast<long long>(verified->head_id),
              static_cast<long long>(verified->rows), verified->report.head_hash.c_str(),
              o.out.c_str());
  return 0;
}

}  // namespace provisiond
