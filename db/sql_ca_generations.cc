// sql_ca_generations.cc — CA generations (#19 part 3) once for both engines: the rollover's
// insert, activate and retire as conditional UPDATEs with their chained state events, the
// /cacerts fetch record and `ca status`'s counts. The contract is in store.h; the states in
// ca_generation_records.h. Every statement names its tables in full (no alias), for the index
// tests (tests/db/query_plan_test.cc).
#include <string>
#include <utility>
#include <vector>

#include "ca/encoding.h"
#include "db/ca_generation_state.h"
#include "db/sql_store.h"

namespace db {
namespace {

// ca_generations holds one row per rollover: read whole.
constexpr const char* kSelectGenerations =
    "SELECT gen, state, cert_sha256, cert_der, new_with_old_der, old_with_new_der, key_location, "
    "created_at, activated_at, retired_at FROM ca_generations ORDER BY gen";
constexpr const char* kGenerationSummary =
    "SELECT count(*), coalesce(max(gen), 0), "
    "coalesce(sum(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0), "
    "coalesce(sum(CASE WHEN state = 'previous' THEN 1 ELSE 0 END), 0) FROM ca_generations";
constexpr const char* kInsertGeneration =
    "INSERT INTO ca_generations (gen, state, cert_sha256, cert_der, new_with_old_der, "
    "old_with_new_der, key_location, created_at, activated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
// The database's own guards: each UPDATE changes a row only from the state it expects, and the
// partial UNIQUE indexes refuse a second active, pending or previous generation.
constexpr const char* kPendingGeneration = "SELECT gen FROM ca_generations WHERE state = 'pending'";
constexpr const char* kDemoteActive =
    "UPDATE ca_generations SET state = 'previous' WHERE state = 'active' RETURNING gen";
constexpr const char* kPromotePending =
    "UPDATE ca_generations SET state = 'active', activated_at = $2 "
    "WHERE gen = $1 AND state = 'pending' RETURNING gen";
constexpr const char* kRetirePrevious =
    "UPDATE ca_generations SET state = 'retired', retired_at = $1 WHERE state = 'previous' "
    "RETURNING gen";
// The primary key (ca_gen, device_id) serves both.
constexpr const char* kInsertFetch =
    "INSERT INTO cacerts_fetches (ca_gen, device_id, first_at) VALUES ($1, $2, $3) "
    "ON CONFLICT DO NOTHING";
constexpr const char* kFetched =
    "SELECT EXISTS (SELECT 1 FROM cacerts_fetches WHERE ca_gen = $1 AND device_id = $2)";
// The partial certificates_unrevoked_not_after serves the active certificates; devices are
// probed through certificates_device_id.
constexpr const char* kActiveDevices =
    "SELECT count(DISTINCT certificates.device_id) FROM certificates "
    "WHERE certificates.revoked_at IS NULL AND certificates.not_after > $1";
constexpr const char* kDevicesHolding =
    "SELECT count(DISTINCT certificates.device_id) FROM certificates "
    "WHERE certificates.revoked_at IS NULL AND certificates.not_after > $1 "
    "AND certificates.ca_gen = $2";
constexpr const char* kDevicesFetched =
    "SELECT count(*) FROM cacerts_fetches WHERE cacerts_fetches.ca_gen = $1 AND EXISTS "
    "(SELECT 1 FROM certificates WHERE certificates.device_id = cacerts_fetches.device_id "
    "AND certificates.revoked_at IS NULL AND certificates.not_after > $2)";

CaGeneration ReadGeneration(const RowView& row) {
  CaGeneration g{.gen = row.Int(0),
                 .state = row.Text(1),
                 .cert_sha256 = row.Text(2),
                 .cert_der = row.Blob(3),
                 .key_location = row.Text(6),
                 .created_at = row.Text(7)};
  if (!row.IsNull(4)) g.new_with_old_der = row.Blob(4);
  if (!row.IsNull(5)) g.old_with_new_der = row.Blob(5);
  if (!row.IsNull(8)) g.activated_at = row.Text(8);
  if (!row.IsNull(9)) g.retired_at = row.Text(9);
  return g;
}

Result<void> CheckGeneration(const CaGeneration& g) {
  if (g.cert_der.empty() ||
      g.cert_sha256 != ca::Sha256Hex(std::span(g.cert_der.data(), g.cert_der.size()))) {
    return base::Fail(Code::kConstraint, "CA generation " + std::to_string(g.gen) +
                                             ": cert_sha256 is not the certificate's hash");
  }
  return {};
}

Result<void> InsertGeneration(SqlSession& db, const CaGeneration& g) {
  if (auto r = CheckGeneration(g); !r) return r;
  auto inserted = db.Query(kInsertGeneration,
                           SqlParams()
                               .Int(g.gen)
                               .Text(g.state)
                               .Text(g.cert_sha256)
                               .Blob(g.cert_der)
                               .Blob(g.new_with_old_der)
                               .Blob(g.old_with_new_der)
                               .Text(g.key_location)
                               .Text(g.created_at)
                               .OptionalText(g.activated_at),
                           {});
  if (!inserted) return inserted;
  if (auto r = db.AppendEvent(CaRolloverEvent(g), ""); !r) return r;
  if (g.activated_at) return db.AppendEvent(CaActivatedEvent(g.gen, *g.activated_at), "");
  return {};
}

struct Summary {
  int64_t rows = 0, newest = 0, pending = 0, previous = 0;
};

Result<Summary> ReadSummary(SqlSession& db) {
  Summary s;
  auto read = db.Query(kGenerationSummary, {}, [&](const RowView& row) {
    s = Summary{row.Int(0), row.Int(1), row.Int(2), row.Int(3)};
  });
  if (!read) return std::unexpected(read.error());
  return s;
}

}  // namespace

Result<void> RecordCacertsFetchInTxn(SqlSession& db, std::string_view device_id, int64_t gen,
                                     std::string_view at) {
  return db.Query(kInsertFetch, SqlParams().Int(gen).Text(device_id).Text(at), {});
}

Result<std::vector<CaGeneration>> SqlStore::ListCaGenerations() {
  return Use<std::vector<CaGeneration>>([&](SqlSession& db) -> Result<std::vector<CaGeneration>> {
    std::vector<CaGeneration> out;
    auto read = db.Query(kSelectGenerations, {},
                         [&](const RowView& row) { out.push_back(ReadGeneration(row)); });
    if (!read) return std::unexpected(read.error());
    return out;
  });
}

Result<CaChange> SqlStore::AddCaGeneration(const CaGeneration& first, const CaGeneration& next) {
  if (first.gen != 1 || first.state != "active" || !first.activated_at || next.state != "pending" ||
      next.gen < 2 || next.new_with_old_der.empty() || next.old_with_new_der.empty()) {
    return base::Fail(Code::kConstraint, "AddCaGeneration: not generation 1 (active) and a "
                                         "later pending generation with both links");
  }
  return Use<CaChange>([&](SqlSession& db) -> Result<CaChange> {
    CaChange change = CaChange::kDone;
    auto done = db.InWrite([&]() -> Result<void> {
      auto summary = ReadSummary(db);
      if (!summary) return std::unexpected(summary.error());
      if (summary->pending > 0) change = CaChange::kPendingExists;
      else if (summary->previous > 0) change = CaChange::kPreviousExists;
      else if (next.gen != std::max<int64_t>(summary->newest, 1) + 1) change = CaChange::kGenTaken;
      if (change != CaChange::kDone) return {};
      if (summary->rows == 0) {
        if (auto r = InsertGeneration(db, first); !r) return r;
      }
      return InsertGeneration(db, next);
    });
    if (!done) return std::unexpected(done.error());
    return change;
  });
}

Result<CaChange> SqlStore::ActivateCaGeneration(std::string_view at, int64_t* gen) {
  return Use<CaChange>([&](SqlSession& db) -> Result<CaChange> {
    CaChange change = CaChange::kDone;
    auto done = db.InWrite([&]() -> Result<void> {
      auto pending = SelectInt(db, kPendingGeneration, {});
      if (!pending) return std::unexpected(pending.error());
      if (!*pending) {
        change = CaChange::kNothingPending;
        return {};
      }
      if (auto r = db.Query(kDemoteActive, {}, {}); !r) return r;
      auto promoted = SelectInt(db, kPromotePending, SqlParams().Int(**pending).Text(at));
      if (!promoted) return std::unexpected(promoted.error());
      if (!*promoted) {  // another transaction activated it first: undo the demotion
        change = CaChange::kNothingPending;
        return base::Fail(Code::kConstraint, "activate: the pending generation changed");
      }
      if (gen != nullptr) *gen = **promoted;
      return db.AppendEvent(CaActivatedEvent(**promoted, at), "");
    });
    if (!done && change != CaChange::kNothingPending) return std::unexpected(done.error());
    return change;
  });
}

Result<CaChange> SqlStore::RetireCaGeneration(std::string_view at, int64_t* gen) {
  return Use<CaChange>([&](SqlSession& db) -> Result<CaChange> {
    CaChange change = CaChange::kDone;
    auto done = db.InWrite([&]() -> Result<void> {
      auto retired = SelectInt(db, kRetirePrevious, SqlParams().Text(at));
      if (!retired) return std::unexpected(retired.error());
      if (!*retired) {
        change = CaChange::kNothingToRetire;
        return {};
      }
      if (gen != nullptr) *gen = **retired;
      return db.AppendEvent(CaRetiredEvent(**retired, at), "");
    });
    if (!done) return std::unexpected(done.error());
    return change;
  });
}

Result<void> SqlStore::RecordCacertsFetch(std::string_view device_id, int64_t gen,
                                          std::string_view at) {
  return WithSession([&](SqlSession& db) {
    return db.InWrite([&] { return RecordCacertsFetchInTxn(db, device_id, gen, at); });
  });
}

Result<bool> SqlStore::CacertsFetched(std::string_view device_id, int64_t gen) {
  return Use<bool>([&](SqlSession& db) {
    return SelectTruth(db, kFetched, SqlParams().Int(gen).Text(device_id));
  });
}

Result<CaStatusReport> SqlStore::CaStatus(std::string_view now_iso) {
  auto generations = ListCaGenerations();
  if (!generations) return std::unexpected(generations.error());
  return Use<CaStatusReport>([&](SqlSession& db) -> Result<CaStatusReport> {
    CaStatusReport report;
    auto active = SelectInt(db, kActiveDevices, SqlParams().Text(now_iso));
    if (!active) return std::unexpected(active.error());
    report.active_devices = active->value_or(0);
    for (CaGeneration& g : *generations) {
      auto holding = SelectInt(db, kDevicesHolding, SqlParams().Text(now_iso).Int(g.gen));
      if (!holding) return std::unexpected(holding.error());
      auto fetched = SelectInt(db, kDevicesFetched, SqlParams().Int(g.gen).Text(now_iso));
      if (!fetched) return std::unexpected(fetched.error());
      g.cert_der.clear();
      g.new_with_old_der.clear();
      g.old_with_new_der.clear();
      report.generations.push_back(CaGenerationCounts{
          std::move(g), holding->value_or(0), fetched->value_or(0)});
    }
    return report;
  });
}

}  // namespace db
