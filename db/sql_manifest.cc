// sql_manifest.cc — factory manifests (#19 part 2) once for both engines: the import (one write
// transaction: the batch, its rows and its chained state event, or nothing), the lookup at
// enrollment, and the report's counts. Every statement names its tables in full (no alias), so
// the index tests (tests/db/query_plan_test.cc) see which table each plan line reads.
#include <map>
#include <set>
#include <string>
#include <utility>

#include "db/manifest_state.h"
#include "db/row_read.h"
#include "db/sql_store.h"

namespace db {
namespace {

// manifest_devices.bootstrap_sha256 and .device_id are UNIQUE (their automatic indexes).
constexpr const char* kFindByFingerprint =
    "SELECT manifest_batches.name, manifest_devices.device_id FROM manifest_devices "
    "JOIN manifest_batches ON manifest_batches.id = manifest_devices.batch_id "
    "WHERE manifest_devices.bootstrap_sha256 = $1";
constexpr const char* kFindByDevice =
    "SELECT manifest_batches.name, manifest_devices.bootstrap_sha256 FROM manifest_devices "
    "JOIN manifest_batches ON manifest_batches.id = manifest_devices.batch_id "
    "WHERE manifest_devices.device_id = $1";
constexpr const char* kSelectBatchId = "SELECT id FROM manifest_batches WHERE name = $1";
constexpr const char* kSelectBatchRows =
    "SELECT device_id, bootstrap_sha256 FROM manifest_devices WHERE batch_id = $1";
constexpr const char* kInsertBatch =
    "INSERT INTO manifest_batches (name, file_sha256, row_count, imported_at) "
    "VALUES ($1, $2, $3, $4) RETURNING id";
constexpr const char* kInsertRow =
    "INSERT INTO manifest_devices (batch_id, device_id, bootstrap_sha256) VALUES ($1, $2, $3)";

// Per batch: its rows (manifest_devices_batch_id), each probed in certificates by the bootstrap
// certificate (certificates_auth_cert_fingerprint), in pending intents (the partial
// issuance_intents_auth_cert_fingerprint) and in the attempts that presented a certificate (the
// partial enrollment_events_presented_fingerprint).
#define PROVISIOND_MANIFEST_REPORT                                                               \
  "SELECT manifest_batches.name, manifest_batches.file_sha256, manifest_batches.imported_at, "   \
  "manifest_batches.row_count, "                                                                 \
  "(SELECT count(*) FROM manifest_devices WHERE manifest_devices.batch_id = manifest_batches.id " \
  "AND EXISTS (SELECT 1 FROM certificates WHERE certificates.auth_cert_fingerprint = "            \
  "manifest_devices.bootstrap_sha256 AND certificates.kind = 'enroll')), "                       \
  "(SELECT count(*) FROM manifest_devices WHERE manifest_devices.batch_id = manifest_batches.id " \
  "AND NOT EXISTS (SELECT 1 FROM certificates WHERE certificates.auth_cert_fingerprint = "        \
  "manifest_devices.bootstrap_sha256) "                                                          \
  "AND NOT EXISTS (SELECT 1 FROM issuance_intents WHERE issuance_intents.auth_cert_fingerprint = " \
  "manifest_devices.bootstrap_sha256 AND issuance_intents.status = 'pending') "                  \
  "AND NOT EXISTS (SELECT 1 FROM enrollment_events WHERE "                                       \
  "enrollment_events.presented_fingerprint = manifest_devices.bootstrap_sha256 "                 \
  "AND enrollment_events.presented_fingerprint IS NOT NULL)) "                                   \
  "FROM manifest_batches "
constexpr const char* kReportAll = PROVISIOND_MANIFEST_REPORT "ORDER BY manifest_batches.name";
constexpr const char* kReportOne = PROVISIOND_MANIFEST_REPORT "WHERE manifest_batches.name = $1";
#undef PROVISIOND_MANIFEST_REPORT
// Every attempt that presented a certificate that is in no manifest and is none of ours (a
// renewal presents its operational certificate): reads the whole partial index
// enrollment_events_presented_fingerprint (linear in such attempts, never the table), probing
// manifest_devices and certificates by their unique fingerprints.
constexpr const char* kUnknownAttempts =
    "SELECT count(*), count(DISTINCT enrollment_events.presented_fingerprint) "
    "FROM enrollment_events WHERE enrollment_events.presented_fingerprint IS NOT NULL "
    "AND NOT EXISTS (SELECT 1 FROM manifest_devices WHERE manifest_devices.bootstrap_sha256 = "
    "enrollment_events.presented_fingerprint) "
    "AND NOT EXISTS (SELECT 1 FROM certificates WHERE certificates.fingerprint_sha256 = "
    "enrollment_events.presented_fingerprint)";

bool IsSha256Hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<void> CheckImport(const ManifestImport& import) {
  if (import.batch.empty()) return base::Fail(Code::kConstraint, "ImportManifest: empty batch name");
  if (import.rows.empty()) return base::Fail(Code::kConstraint, "ImportManifest: no rows");
  if (!IsSha256Hex(import.file_sha256)) {
    return base::Fail(Code::kConstraint, "ImportManifest: file_sha256 is not SHA-256 hex");
  }
  for (const ManifestRow& row : import.rows) {
    if (row.device_id.empty() || !IsSha256Hex(row.bootstrap_sha256)) {
      return base::Fail(Code::kConstraint, "ImportManifest: line " + std::to_string(row.line) +
                                               ": empty device id or fingerprint not SHA-256 hex");
    }
  }
  return {};
}

// The stored batch's rows against the file's: kUnchanged when they are the same set, else every
// row of either side that the other lacks.
Result<ManifestImportResult> CompareWithStored(SqlSession& db, int64_t batch_id,
                                               const ManifestImport& import) {
  std::set<std::pair<std::string, std::string>> stored;
  auto read = db.Query(kSelectBatchRows, SqlParams().Int(batch_id), [&](const RowView& row) {
    stored.emplace(row.Text(0), Sha256Column(row, 1));
  });
  if (!read) return std::unexpected(read.error());
  ManifestImportResult result{.status = ManifestImportStatus::kUnchanged, .conflicts = {}};
  for (const ManifestRow& row : import.rows) {
    if (stored.erase({row.device_id, row.bootstrap_sha256}) == 1) continue;
    result.conflicts.push_back({row.line, row.device_id, row.bootstrap_sha256,
                                "not in batch \"" + import.batch + "\" as imported before"});
  }
  for (const auto& [device_id, fingerprint] : stored) {
    result.conflicts.push_back({0, device_id, fingerprint,
                                "in batch \"" + import.batch + "\" but not in this file"});
  }
  if (!result.conflicts.empty()) result.status = ManifestImportStatus::kConflict;
  return result;
}

// Rows of a new batch whose device id or fingerprint another batch already lists.
Result<std::vector<ManifestConflict>> RowsElsewhere(SqlSession& db, const ManifestImport& import) {
  std::vector<ManifestConflict> conflicts;
  for (const ManifestRow& row : import.rows) {
    std::string why;
    auto by_device = db.Query(kFindByDevice, SqlParams().Text(row.device_id), [&](const RowView& r) {
      why = "device id already in batch \"" + r.Text(0) + "\" with bootstrap_sha256 " + Sha256Column(r, 1);
    });
    if (!by_device) return std::unexpected(by_device.error());
    auto by_fp =
        db.Query(kFindByFingerprint, SqlParams().Sha256(row.bootstrap_sha256), [&](const RowView& r) {
          if (!why.empty()) why += "; ";
          why += "bootstrap_sha256 already in batch \"" + r.Text(0) + "\" for device " + r.Text(1);
        });
    if (!by_fp) return std::unexpected(by_fp.error());
    if (!why.empty()) conflicts.push_back({row.line, row.device_id, row.bootstrap_sha256, why});
  }
  return conflicts;
}

Result<void> InsertBatch(SqlSession& db, const ManifestImport& import) {
  const auto count = static_cast<int64_t>(import.rows.size());
  auto id = SelectInt(db, kInsertBatch,
                      SqlParams()
                          .Text(import.batch)
                          .Text(import.file_sha256)
                          .Int(count)
                          .Text(import.imported_at));
  if (!id) return std::unexpected(id.error());
  if (!*id) return base::Fail(Code::kInternal, "ImportManifest: INSERT returned no id");
  for (const ManifestRow& row : import.rows) {
    auto done = db.Query(kInsertRow, SqlParams().Int(**id).Text(row.device_id).Sha256(row.bootstrap_sha256),
                         {});
    if (!done) return done;
  }
  return db.AppendEvent(ManifestImportedEvent(import.batch, import.file_sha256, count,
                                              ManifestRowsSha256(import.rows), import.imported_at),
                        "");
}

}  // namespace

Result<std::optional<ManifestEntry>> SqlStore::FindInManifest(std::string_view bootstrap_sha256) {
  using Found = std::optional<ManifestEntry>;
  return Use<Found>([&](SqlSession& db) -> Result<Found> {
    Found found;
    auto done = db.Query(kFindByFingerprint, SqlParams().Sha256(bootstrap_sha256),
                         [&](const RowView& row) { found = ManifestEntry{row.Text(0), row.Text(1)}; });
    if (!done) return std::unexpected(done.error());
    return found;
  });
}

Result<ManifestImportResult> SqlStore::ImportManifest(const ManifestImport& import) {
  if (auto ok = CheckImport(import); !ok) return std::unexpected(ok.error());
  return Use<ManifestImportResult>([&](SqlSession& db) -> Result<ManifestImportResult> {
    ManifestImportResult result;
    // Decided and written under the store's write lock: two imports (any connection or replica)
    // never decide on the same state; the UNIQUE indexes hold even if one did.
    auto done = db.InWrite([&]() -> Result<void> {
      auto existing = SelectInt(db, kSelectBatchId, SqlParams().Text(import.batch));
      if (!existing) return std::unexpected(existing.error());
      if (*existing) {
        auto compared = CompareWithStored(db, **existing, import);
        if (!compared) return std::unexpected(compared.error());
        result = std::move(*compared);
        return {};
      }
      auto conflicts = RowsElsewhere(db, import);
      if (!conflicts) return std::unexpected(conflicts.error());
      if (!conflicts->empty()) {
        result = {ManifestImportStatus::kConflict, std::move(*conflicts)};
        return {};
      }
      result = {ManifestImportStatus::kImported, {}};
      return InsertBatch(db, import);
    });
    if (!done) return std::unexpected(done.error());
    return result;
  });
}

Result<ManifestReport> SqlStore::ReportManifests(std::string_view batch) {
  return Use<ManifestReport>([&](SqlSession& db) -> Result<ManifestReport> {
    ManifestReport report;
    const bool one = !batch.empty();
    auto done = db.Query(one ? kReportOne : kReportAll,
                         one ? SqlParams().Text(batch) : SqlParams(), [&](const RowView& row) {
                           report.batches.push_back({.batch = row.Text(0),
                                                     .file_sha256 = row.Text(1),
                                                     .imported_at = row.Text(2),
                                                     .expected = row.Int(3),
                                                     .enrolled = row.Int(4),
                                                     .never_seen = row.Int(5)});
                         });
    if (!done) return std::unexpected(done.error());
    auto unknown = db.Query(kUnknownAttempts, {}, [&](const RowView& row) {
      report.unknown_attempts = row.Int(0);
      report.unknown_certificates = row.Int(1);
    });
    if (!unknown) return std::unexpected(unknown.error());
    return report;
  });
}

}  // namespace db
