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
#include "daemon/files.h"
#include "daemon/tidy_archive.h"

namespace provisiond {
namespace {

int Error(const std::string& what) {
  std::fprintf(stderr, "provisiond: tidy: %s\n", what.c_str());
  return 1;
}

base::Result<std::unique_ptr<ca::CrtChain>> LoadCaCert(const std::string& state_dir) {
  StatePaths paths(state_dir);
  auto pem = ReadFile(paths.ca_cert);
  if (!pem) return std::unexpected(pem.error());
  auto crt = ca::ParseCertificates(*pem);
  if (!crt) return base::Fail(base::Code::kInvalidArgument, paths.ca_cert + ": " + crt.error().detail);
  return std::move(*crt);
}

// The CA key (file or token), its certificate and a DRBG: what tidy signs with.
struct Signer {
  std::unique_ptr<ca::Drbg> drbg;
  std::unique_ptr<ca::CrtChain> crt;
  std::unique_ptr<CaKeySource> source;
  std::unique_ptr<ca::CaKey> key;

  static base::Result<Signer> Open(const std::string& state_dir, const CaKeyOptions& options) {
    Signer s;
    auto drbg = ca::Drbg::FromSystemEntropy();
    if (!drbg) return base::Fail(base::Code::kInternal, drbg.error().detail);
    s.drbg = std::move(*drbg);
    auto crt = LoadCaCert(state_dir);
    if (!crt) return std::unexpected(crt.error());
    s.crt = std::move(*crt);
    auto source = CaKeySource::Open(StatePaths(state_dir), options, s.drbg->rng());
    if (!source) return std::unexpected(source.error());
    s.source = std::move(*source);
    auto key = s.source->NewKey(s.drbg->rng());
    if (!key) return std::unexpected(key.error());
    s.key = std::move(*key);
    return s;
  }
  base::Result<std::string> Checkpoint(int64_t id, const std::string& hash, const std::string& at) {
    ca::AuditCheckpoint cp{.id = id, .row_hash = hash, .rows = id, .time = at};
    auto text = ca::SignAuditCheckpoint(cp, *crt->get(), *key, drbg->rng());
    if (!text) return base::Fail(base::Code::kInternal, text.error().detail);
    return *text;
  }
  base::Result<base::Bytes> Sign(const unsigned char (&digest)[32]) {
    auto sig = key->SignDigest(std::span<const unsigned char, 32>(digest), drbg->rng());
    if (!sig) return base::Fail(base::Code::kInternal, sig.error().detail);
    return *sig;
  }
};

// What one run removed, for the summary line and the "tidy" event.
struct Counts {
  int64_t certificates = 0, intents = 0, events = 0, carried = 0;
};

std::string Quoted(std::string_view key, std::string_view value) {
  return std::string(key) + "=\"" + std::string(value) + "\"";
}

// Certificates, then pending intents, each batch archived (and synced) before it is removed.
base::Result<void> RemoveRows(db::Store& store, const db::TidyBounds& bounds, ArchiveWriter* archive,
                              Counts& counts) {
  for (bool intents : {false, true}) {
    for (;;) {
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
base::Result<void> Truncate(db::Store& store, int64_t cut, const std::string& cut_checkpoint,
                            ArchiveWriter* archive, Counts& counts) {
  auto carried = store.CarryLiveState(cut, kTidyBatchRows);
  if (!carried) return base::Fail(base::Code::kIo, carried.error().detail);
  counts.carried = *carried;
  for (;;) {
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

std::optional<int64_t> ParseTidyDate(std::string_view text) {
  auto digits = [&](size_t at, size_t n) -> std::optional<int> {
    if (at + n > text.size()) return std::nullopt;
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  auto y = digits(0, 4), mo = digits(5, 2), d = digits(8, 2);
  if (!y || !mo || !d || text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  std::tm tm{.tm_sec = 0, .tm_min = 0, .tm_hour = 0, .tm_mday = *d, .tm_mon = *mo - 1,
             .tm_year = *y - 1900};
  int64_t offset = 0;
  if (text.size() > 10) {
    auto h = digits(11, 2), mi = digits(14, 2), s = digits(17, 2);
    if (!h || !mi || !s || (text[10] != 'T' && text[10] != 't') || text[13] != ':' ||
        text[16] != ':' || *h > 23 || *mi > 59 || *s > 59) {
      return std::nullopt;
    }
    tm.tm_hour = *h;
    tm.tm_min = *mi;
    tm.tm_sec = *s;
    size_t at = 19;
    if (at < text.size() && text[at] == '.') {
      do ++at; while (at < text.size() && text[at] >= '0' && text[at] <= '9');
    }
    const std::string_view zone = text.substr(std::min(at, text.size()));
    if (zone == "Z" || zone == "z") {
    } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
      auto oh = digits(at + 1, 2), om = digits(at + 4, 2);
      if (!oh || !om || *oh > 23 || *om > 59) return std::nullopt;
      offset = (zone[0] == '+' ? 1 : -1) * (*oh * 3600 + *om * 60);
    } else {
      return std::nullopt;
    }
  }
  const std::tm asked = tm;
  const int64_t t = static_cast<int64_t>(timegm(&tm));
  if (tm.tm_mday != asked.tm_mday || tm.tm_mon != asked.tm_mon) return std::nullopt;  // 02-30
  return t - offset;
}

std::optional<std::string> ChainBaseProblem(db::Store& store, const std::string& state_dir) {
  auto base = store.AuditChainBase();
  if (!base) return "database: " + base.error().detail;
  if (base->checkpoint.empty()) {
    if (base->first_id == 1) return std::nullopt;
    return "the chain starts at row " + std::to_string(base->first_id) + " without a checkpoint";
  }
  auto crt = LoadCaCert(state_dir);
  if (!crt) return crt.error().detail;
  auto cp = ca::VerifyAuditCheckpoint(base->checkpoint, *(*crt)->get());
  if (!cp) return "the chain's base checkpoint: " + cp.error().detail;
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

int RunTidy(const TidyOptions& o, const std::string& state_dir, const CaKeyOptions& ca_key,
            const StoreLocation& location) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto expired = ParseTidyDate(o.expired_before);
  if (!expired) return Error("--expired-before " + o.expired_before + ": not YYYY-MM-DD or RFC 3339");
  if (*expired > now - kTidySafetyMarginSeconds) {
    return Error("--expired-before " + o.expired_before + " is later than now minus " +
                 std::to_string(kTidySafetyMarginSeconds / 60) + " minutes (the safety margin)");
  }
  std::optional<int64_t> events;
  if (!o.events_before.empty()) {
    events = ParseTidyDate(o.events_before);
    if (!events) return Error("--events-before " + o.events_before + ": not YYYY-MM-DD or RFC 3339");
    if (*events > now) return Error("--events-before " + o.events_before + " is in the future");
  }
  auto opened = location.Open();
  if (!opened) return Error("database: " + opened.error().detail);
  db::Store& store = **opened;
  // Nothing is removed from a chain that does not verify: its damage would be archived away.
  auto report = store.VerifyAuditChain();
  if (!report) return Error("database: " + report.error().detail);
  if (!report->ok) return Error("the audit chain does not verify (" + report->problem + "); nothing removed");
  if (auto problem = ChainBaseProblem(store, state_dir)) return Error(*problem + "; nothing removed");
  auto base = store.AuditChainBase();
  auto dropped = store.CrlDroppedBefore();
  if (!base || !dropped) return Error("database: " + (!base ? base.error() : dropped.error()).detail);
  const std::string at = ca::Iso8601(now);
  db::TidyBounds bounds{.expired_before = ca::Iso8601(*expired), .revoked_before = {},
                        .tidied_at = at};
  if (*dropped) bounds.revoked_before = std::min(bounds.expired_before, **dropped);
  const int64_t head = base->first_id + report->rows_checked - 1;
  int64_t cut = base->first_id;
  if (events) {
    auto c = store.ChainCut(ca::Iso8601(*events), head);
    if (!c) return Error("database: " + c.error().detail);
    cut = *c;
  }
  if (o.dry_run) {
    auto certs = store.TidyCertificates(bounds, 1 << 30);
    auto intents = store.TidyIntents(bounds, 1 << 30);
    if (!certs || !intents) return Error("database: " + (!certs ? certs.error() : intents.error()).detail);
    std::printf("tidy (dry run): would remove %zu certificates, %zu pending intents, %lld events "
                "(rows %lld..%lld); revoked ones expired before %s\n",
                certs->size(), intents->size(), static_cast<long long>(cut - base->first_id),
                static_cast<long long>(base->first_id), static_cast<long long>(cut - 1),
                bounds.revoked_before.empty() ? "(none: no CRL built yet)"
                                              : bounds.revoked_before.c_str());
    return 0;
  }
  auto signer = Signer::Open(state_dir, ca_key);
  if (!signer) return Error(signer.error().detail);
  auto head_cp = signer->Checkpoint(head, report->head_hash, at);
  if (!head_cp) return Error(head_cp.error().detail);
  std::string cut_cp;
  if (cut > base->first_id) {
    auto below = store.ChainRows(cut - 1, cut, 1);
    if (!below || below->empty()) return Error("database: the row below the cut is gone");
    auto text = signer->Checkpoint(cut - 1, below->front().row_hash, at);
    if (!text) return Error(text.error().detail);
    cut_cp = *text;
  }
  std::unique_ptr<ArchiveWriter> archive;
  if (!o.archive.empty()) {
    auto created = ArchiveWriter::Create(o.archive, *head_cp, *base, cut_cp);
    if (!created) return Error(created.error().detail);
    archive = std::move(*created);
  }
  Counts counts;
  if (auto r = RemoveRows(store, bounds, archive.get(), counts); !r) return Error(r.error().detail);
  if (cut > base->first_id) {
    if (auto r = Truncate(store, cut, cut_cp, archive.get(), counts); !r) {
      return Error(r.error().detail);
    }
  }
  std::string reason = Quoted("certificates", std::to_string(counts.certificates)) + " " +
                       Quoted("intents", std::to_string(counts.intents)) + " " +
                       Quoted("events", std::to_string(counts.events)) + " " +
                       Quoted("carried", std::to_string(counts.carried)) + " " +
                       Quoted("expired_before", bounds.expired_before) + " " +
                       Quoted("revoked_before", bounds.revoked_before) + " " +
                       Quoted("events_before", events ? ca::Iso8601(*events) : "") + " " +
                       Quoted("checkpoint_id", std::to_string(head)) + " " +
                       Quoted("checkpoint_hash", report->head_hash) + " " +
                       Quoted("chain_first_id", std::to_string(std::max(cut, base->first_id)));
  db::EventRecord event{.time = at, .peer = "local", .endpoint = "tidy", .outcome = "tidy",
                        .reason = reason};
  if (auto r = store.RecordEvent(event); !r) return Error("database: " + r.error().detail);
  if (archive) {
    auto sign = [&](const unsigned char (&d)[32]) { return signer->Sign(d); };
    if (auto r = archive->Finish(sign); !r) return Error(r.error().detail);
  }
  std::printf("tidy: removed %lld certificates, %lld pending intents, %lld events (%lld state "
              "events carried forward); checkpoint at row %lld%s%s\n",
              static_cast<long long>(counts.certificates), static_cast<long long>(counts.intents),
              static_cast<long long>(counts.events), static_cast<long long>(counts.carried),
              static_cast<long long>(head), archive ? "; archive " : "",
              archive ? o.archive.c_str() : "");
  return 0;
}

int VerifyTidyArchive(const std::string& file, const std::string& state_dir) {
  auto crt = LoadCaCert(state_dir);
  if (!crt) return Error(crt.error().detail);
  auto summary = VerifyArchive(file, *(*crt)->get());
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
  std::printf(", %lld certificates, %lld pending intents; head checkpoint row %lld\n",
              static_cast<long long>(summary->certificates),
              static_cast<long long>(summary->intents), static_cast<long long>(summary->head_id));
  return 0;
}

CLI::App* AddTidyCommand(CLI::App& app, TidyOptions& o, CaKeyOptions& ca_key) {
  CLI::App* cmd = app.add_subcommand(
      "tidy",
      "remove expired certificates (revoked ones once no CRL lists them), expired pending "
      "intents and (--events-before) old events, online, after a signed audit checkpoint; "
      "never an unexpired certificate");
  cmd->add_option("--expired-before", o.expired_before,
                  "DATE (YYYY-MM-DD or RFC 3339, at least 1 hour ago): certificates and pending "
                  "intents whose notAfter is before it")
      ->required()
      ->check(NonEmptyText());
  cmd->add_option("--events-before", o.events_before,
                  "DATE (not in the future): also remove the audit chain's rows before it (state "
                  "they record that still exists is carried forward)")
      ->check(NonEmptyText());
  cmd->add_option("--archive", o.archive,
                  "FILE (must not exist): every removed row, signed with the CA key, written "
                  "before it is removed (check with `audit verify-archive FILE`)")
      ->check(WritableFilePath());
  cmd->add_flag("--dry-run", o.dry_run, "count what would be removed; change nothing");
  AddCaKeyOptions(cmd, ca_key);
  return cmd;
}

}  // namespace provisiond
