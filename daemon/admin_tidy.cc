// admin_tidy.cc — `provisiond tidy` and `audit verify-archive` (admin_tidy.h): the checks before
// anything is removed, the signed checkpoints, the batched removal and the summary event.
#include "daemon/admin_tidy.h"

#include <cstdio>
#include <ctime>
#include <memory>

#include "ca/audit_checkpoint.h"
#include "ca/cert.h"
#include "ca/encoding.h"
#include "daemon/ca_key_source.h"
#include "daemon/cli_checks.h"
#include "daemon/cli_error.h"
#include "daemon/files.h"
#include "daemon/generation_signing.h"
#include "daemon/tidy_archive.h"

namespace provisiond {
namespace {

int Error(const std::string& what) { return cli::Error("tidy", what); }

// What one run removed, for the summary line and the "tidy" event.
struct Counts {
  int64_t certificates = 0, intents = 0, events = 0, carried = 0;
};

std::string Quoted(std::string_view key, std::string_view value) {
  return std::string(key) + "=\"" + std::string(value) + "\"";
}

// Before each write: the tidy lock is still this run's (db::Store::TidyLock::Held).
base::Result<void> StillLocked(db::Store::TidyLock& lock) {
  auto held = lock.Held();
  if (!held) return base::Fail(base::Code::kIo, "database: " + held.error().detail);
  return {};
}

// Certificates, then pending intents, each batch archived (and synced) before it is removed.
base::Result<void> RemoveRows(db::Store& store, db::Store::TidyLock& lock,
                              const db::TidyBounds& bounds, ArchiveWriter* archive, Counts& counts) {
  for (bool intents : {false, true}) {
    for (;;) {
      if (auto held = StillLocked(lock); !held) return held;
      std::vector<std::string> serials;
      if (!intents) {
        auto batch = store.TidyCertificates(bounds, kTidyBatchRows / 2);
        if (!batch) return base::Fail(base::Code::kIo, batch.error().detail);
        for (const auto& c : *batch) serials.push_back(c.serial_hex);
        if (archive != nullptr) archive->Certificates(*batch);
      } else {
        auto batch = store.TidyIntents(bounds, kTidyBatchRows);
        if (!batch) return base::Fail(base::Code::kIo, batch.error().detail);
        for (const auto& i : *batch) serials.push_back(i.serial_hex);
        if (archive != nullptr) archive->Intents(*batch);
      }
      if (serials.empty()) break;
      if (archive != nullptr) {
        if (auto s = archive->Sync(); !s) return s;
      }
      auto removed = intents ? store.RemoveIntents(serials, bounds)
                             : store.RemoveCertificates(serials, bounds);
      if (!removed) return base::Fail(base::Code::kIo, removed.error().detail);
      (intents ? counts.intents : counts.certificates) += *removed;
      if (*removed == 0) break;  // every row of the batch was kept (revoked meanwhile): stop
    }
  }
  return {};
}

// The state still recorded below the cut copied to the head, then the rows below it archived
// and removed, batch by batch.
base::Result<void> Truncate(db::Store& store, db::Store::TidyLock& lock, int64_t cut,
                            const std::string& cut_checkpoint, ArchiveWriter* archive,
                            Counts& counts) {
  if (auto held = StillLocked(lock); !held) return held;
  auto carried = store.CarryLiveState(cut, kTidyBatchRows);
  if (!carried) return base::Fail(base::Code::kIo, carried.error().detail);
  counts.carried = *carried;
  for (;;) {
    if (auto held = StillLocked(lock); !held) return held;
    auto base = store.AuditChainBase();
    if (!base) return base::Fail(base::Code::kIo, base.error().detail);
    if (base->first_id >= cut) return {};
    if (archive != nullptr) {
      auto rows = store.ChainRows(base->first_id, cut, kTidyBatchRows);
      if (!rows) return base::Fail(base::Code::kIo, rows.error().detail);
      archive->Events(*rows);
      if (auto s = archive->Sync(); !s) return s;
    }
    auto removed = store.TruncateChain(cut, cut_checkpoint, kTidyBatchRows);
    if (!removed) return base::Fail(base::Code::kIo, removed.error().detail);
    counts.events += *removed;
    if (*removed == 0) return {};
  }
}

}  // namespace

std::optional<std::string> ChainBaseProblem(db::Store& store, const std::string& state_dir) {
  auto base = store.AuditChainBase();
  if (!base) return "database: " + base.error().detail;
  if (base->checkpoint.empty()) {
    if (base->first_id == 1) return std::nullopt;
    return "the chain starts at row " + std::to_string(base->first_id) + " without a checkpoint";
  }
  // Signed by the generation active at that tidy: any generation's root vouches for it.
  auto roots = LoadGenerationRoots(state_dir);
  if (!roots) return roots.error().detail;
  auto signed_cp = VerifyCheckpointUnderAny(base->checkpoint, *roots);
  if (!signed_cp) return "the chain's base checkpoint: " + signed_cp.error().detail;
  const ca::AuditCheckpoint* cp = &signed_cp->checkpoint;
  const std::string first = std::to_string(base->first_id);
  if (cp->id + 1 == base->first_id) {
    if (cp->row_hash == base->prev_hash) return std::nullopt;
    return "row " + first + " does not link to the signed checkpoint of the row below it";
  }
  if (cp->id + 1 > base->first_id) {
    // A truncation stopped part-way: the checkpoint's row is still in the chain.
    auto from = store.VerifyAuditChainFrom(cp->id, cp->row_hash);
    if (from && from->ok) return std::nullopt;
    return "the chain's base checkpoint (row " + std::to_string(cp->id) +
           ") does not match the chain";
  }
  return "rows below " + first + " were removed past the chain's signed checkpoint (row " +
         std::to_string(cp->id) + ")";
}

namespace {

// What one run will do, fixed before anything is removed.
struct Plan {
  std::string at;  // now, ISO 8601
  db::TidyBounds bounds;
  std::string events_before;  // "" without --events-before
  db::ChainBase base;
  int64_t head = 0;  // the newest chain row when the chain was verified
  std::string head_hash;
  int64_t cut = 0;  // rows base.first_id .. cut - 1 go
};

struct Dates {
  int64_t expired = 0;
  std::optional<int64_t> events;
};

// Both dates, each refused with one line naming its option.
base::Result<Dates> ParseDates(const TidyOptions& o, int64_t now) {
  auto bad = [](std::string what) { return base::Fail(base::Code::kInvalidArgument, what); };
  auto expired = ParseTidyDate(o.expired_before);
  if (!expired) return bad("--expired-before " + o.expired_before + ": not YYYY-MM-DD or RFC 3339");
  if (*expired > now - kTidySafetyMarginSeconds) {
    return bad("--expired-before " + o.expired_before + " is later than now minus " +
               std::to_string(kTidySafetyMarginSeconds / 60) + " minutes (the safety margin)");
  }
  Dates dates{.expired = *expired, .events = std::nullopt};
  if (!o.events_before.empty()) {
    dates.events = ParseTidyDate(o.events_before);
    if (!dates.events) {
      return bad("--events-before " + o.events_before + ": not YYYY-MM-DD or RFC 3339");
    }
    if (*dates.events > now) return bad("--events-before " + o.events_before + " is in the future");
  }
  return dates;
}

// The whole chain verified, then the bounds, the head and the cut read from the store.
base::Result<Plan> MakePlan(const Dates& dates, const std::string& state_dir, db::Store& store,
                            int64_t now) {
  auto bad = [](std::string what) { return base::Fail(base::Code::kInvalidArgument, what); };
  Plan plan{.at = ca::Iso8601(now)};
  if (dates.events) plan.events_before = ca::Iso8601(*dates.events);
  // Nothing is removed from a chain that does not verify: its damage would be archived away.
  auto report = store.VerifyAuditChain();
  if (!report) return base::Fail(base::Code::kIo, "database: " + report.error().detail);
  if (!report->ok) return bad("the audit chain does not verify (" + report->problem + ")");
  if (auto problem = ChainBaseProblem(store, state_dir)) return bad(*problem);
  auto chain_base = store.AuditChainBase();
  auto dropped = store.CrlDroppedBefore();
  if (!chain_base || !dropped) {
    return base::Fail(base::Code::kIo,
                      "database: " + (!chain_base ? chain_base.error() : dropped.error()).detail);
  }
  plan.base = *chain_base;
  plan.bounds = {.expired_before = ca::Iso8601(dates.expired), .revoked_before = {},
                 .tidied_at = plan.at};
  if (*dropped) plan.bounds.revoked_before = std::min(plan.bounds.expired_before, **dropped);
  plan.head = plan.base.first_id + report->rows_checked - 1;
  plan.head_hash = report->head_hash;
  plan.cut = plan.base.first_id;
  if (!plan.events_before.empty()) {
    auto cut = store.ChainCut(plan.events_before, plan.head);
    if (!cut) return base::Fail(base::Code::kIo, "database: " + cut.error().detail);
    plan.cut = *cut;
  }
  return plan;
}

int DryRun(db::Store& store, const Plan& p) {
  auto certs = store.TidyCertificates(p.bounds, 1 << 30);
  auto intents = store.TidyIntents(p.bounds, 1 << 30);
  if (!certs || !intents) {
    return Error("database: " + (!certs ? certs.error() : intents.error()).detail);
  }
  std::printf("tidy (dry run): would remove %zu certificates, %zu pending intents, %lld events "
              "(rows %lld..%lld); revoked ones expired before %s\n",
              certs->size(), intents->size(), static_cast<long long>(p.cut - p.base.first_id),
              static_cast<long long>(p.base.first_id), static_cast<long long>(p.cut - 1),
              p.bounds.revoked_before.empty() ? "(none: no CRL built yet)"
                                              : p.bounds.revoked_before.c_str());
  return 0;
}

// The "tidy" event: what went, the bounds, the head checkpoint's row and the chain's new start.
db::EventRecord SummaryEvent(const Plan& p, const Counts& c) {
  const std::pair<const char*, std::string> fields[] = {
      {"certificates", std::to_string(c.certificates)},
      {"intents", std::to_string(c.intents)},
      {"events", std::to_string(c.events)},
      {"carried", std::to_string(c.carried)},
      {"expired_before", p.bounds.expired_before},
      {"revoked_before", p.bounds.revoked_before},
      {"events_before", p.events_before},
      {"checkpoint_id", std::to_string(p.head)},
      {"checkpoint_hash", p.head_hash},
      {"chain_first_id", std::to_string(std::max(p.cut, p.base.first_id))}};
  std::string reason;
  for (const auto& [key, value] : fields) reason += (reason.empty() ? "" : " ") + Quoted(key, value);
  return db::EventRecord{.time = p.at, .peer = "local", .endpoint = "tidy", .outcome = "tidy",
                         .reason = std::move(reason)};
}

// Signs the checkpoints, opens the archive, removes in batches, records the "tidy" event and
// signs the archive.
base::Result<Counts> Execute(db::Store& store, db::Store::TidyLock& lock, const Plan& p,
                             GenerationSigner& signer, const std::string& archive_path) {
  auto head_cp = signer.Checkpoint({.id = p.head, .row_hash = p.head_hash, .rows = p.head,
                                    .time = p.at});
  if (!head_cp) return std::unexpected(head_cp.error());
  std::string cut_cp;
  if (p.cut > p.base.first_id) {
    auto below = store.ChainRows(p.cut - 1, p.cut, 1);
    if (!below || below->empty()) {
      return base::Fail(base::Code::kIo, "database: the row below the cut is gone");
    }
    auto text = signer.Checkpoint({.id = p.cut - 1, .row_hash = below->front().row_hash,
                                   .rows = p.cut - 1, .time = p.at});
    if (!text) return std::unexpected(text.error());
    cut_cp = *text;
  }
  std::unique_ptr<ArchiveWriter> archive;
  if (!archive_path.empty()) {
    auto created = ArchiveWriter::Create(archive_path, *head_cp, p.base, cut_cp);
    if (!created) return std::unexpected(created.error());
    archive = std::move(*created);
  }
  Counts counts;
  if (auto r = RemoveRows(store, lock, p.bounds, archive.get(), counts); !r) {
    return std::unexpected(r.error());
  }
  if (p.cut > p.base.first_id) {
    if (auto r = Truncate(store, lock, p.cut, cut_cp, archive.get(), counts); !r) {
      return std::unexpected(r.error());
    }
  }
  if (auto held = StillLocked(lock); !held) return std::unexpected(held.error());
  if (auto r = store.RecordEvent(SummaryEvent(p, counts)); !r) {
    return base::Fail(base::Code::kIo, "database: " + r.error().detail);
  }
  if (archive) {
    auto sign = [&](const unsigned char (&d)[32]) { return signer.Sign(d); };
    if (auto r = archive->Finish(sign); !r) return std::unexpected(r.error());
  }
  return counts;
}

}  // namespace

int RunTidy(const TidyOptions& o, const std::string& state_dir, const CaKeyOptions& ca_key,
            const StoreLocation& location) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto dates = ParseDates(o, now);
  if (!dates) return Error(dates.error().detail);
  auto opened = location.Open();
  if (!opened) return Error("database: " + opened.error().detail);
  // One tidy at a time (db/tidy_lock.cc), taken before the plan reads the chain's base. A dry
  // run writes nothing and does without it.
  std::unique_ptr<db::Store::TidyLock> lock;
  if (!o.dry_run) {
    auto locked = (*opened)->TryLockTidy();
    if (!locked) return Error(locked.error().detail + "; nothing removed");
    lock = std::move(*locked);
  }
  auto plan = MakePlan(*dates, state_dir, **opened, now);
  if (!plan) return Error(plan.error().detail + "; nothing removed");
  if (o.dry_run) return DryRun(**opened, *plan);
  // The generation that issues signs (docs/rollover.md); a verifier accepts any generation's.
  auto gen = ActiveGeneration(**opened);
  if (!gen) return Error(gen.error().detail);
  auto signer = GenerationSigner::Open(state_dir, *gen, ca_key);
  if (!signer) return Error(signer.error().detail);
  auto counts = Execute(**opened, *lock, *plan, *signer, o.archive);
  if (!counts) return Error(counts.error().detail);
  std::printf("tidy: removed %lld certificates, %lld pending intents, %lld events (%lld state "
              "events carried forward); checkpoint at row %lld%s%s; signed by CA generation "
              "%lld\n",
              static_cast<long long>(counts->certificates),
              static_cast<long long>(counts->intents), static_cast<long long>(counts->events),
              static_cast<long long>(counts->carried), static_cast<long long>(plan->head),
              o.archive.empty() ? "" : "; archive ", o.archive.c_str(),
              static_cast<long long>(signer->gen));
  return 0;
}

int VerifyTidyArchive(const std::string& file, const std::string& state_dir) {
  auto roots = LoadGenerationRoots(state_dir);
  if (!roots) return Error(roots.error().detail);
  auto summary = VerifyArchive(file, *roots);
  if (!summary) {
    std::printf("archive BROKEN: %s\n", summary.error().detail.c_str());
    return 1;
  }
  std::printf("archive ok: %lld events", static_cast<long long>(summary->events));
  if (summary->events > 0) {
    std::printf(" (rows %lld..%lld, linked to the signed checkpoint of row %lld)",
                static_cast<long long>(summary->first_event),
                static_cast<long long>(summary->last_event),
                static_cast<long long>(summary->last_event));
  }
  std::printf(", %lld certificates, %lld pending intents; head checkpoint row %lld; signed by CA "
              "generation %lld\n",
              static_cast<long long>(summary->certificates),
              static_cast<long long>(summary->intents), static_cast<long long>(summary->head_id),
              static_cast<long long>(summary->signed_by));
  return 0;
}

}  // namespace provisiond
