// manifest_records.h — the values of factory manifests (#19 part 2): a production batch's device
// ids and bootstrap certificate fingerprints, an import's outcome, and the per-batch report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace db {

// One device of a batch: its id and the lowercase hex SHA-256 of its bootstrap certificate's DER.
// `line` is where it was read (1-based; 0 when it did not come from a file), for conflict reports.
struct ManifestRow {
  std::string device_id;
  std::string bootstrap_sha256;
  int line = 0;
};

// One import: the batch's name, the SHA-256 (hex) of the file it came from, its rows (no two
// with the same device id or fingerprint) and the time (ISO 8601 UTC).
struct ManifestImport {
  std::string batch;
  std::string file_sha256;
  std::vector<ManifestRow> rows;
  std::string imported_at;
};

// A row of an import that the store refused, and why ("device id already in batch B with
// fingerprint F", ...). line 0: a row of the stored batch that the new file lacks.
struct ManifestConflict {
  int line = 0;
  std::string device_id;
  std::string bootstrap_sha256;
  std::string why;
};

enum class ManifestImportStatus {
  kImported,   // the batch and its rows were written, with their "manifest_imported" event
  kUnchanged,  // the batch exists with exactly these rows: nothing written
  kConflict,   // nothing written; `conflicts` lists every refused row
};

struct ManifestImportResult {
  ManifestImportStatus status = ManifestImportStatus::kConflict;
  std::vector<ManifestConflict> conflicts;
};

// Where a bootstrap certificate's fingerprint is listed (Store::FindInManifest).
struct ManifestEntry {
  std::string batch;
  std::string device_id;
};

// One batch in `manifest report`: devices expected (rows), enrolled (an enroll certificate was
// issued to that bootstrap certificate, revoked or not), never seen (no certificate, no pending
// intent and no enrollment_events row presented that certificate).
struct ManifestBatchCounts {
  std::string batch;
  std::string file_sha256;
  std::string imported_at;
  int64_t expected = 0;
  int64_t enrolled = 0;
  int64_t never_seen = 0;
};

// The report: every batch (or the one asked for), by name; and the attempts (enrollment_events
// rows) by certificates that are in no manifest and are not one of our certificates (a renewal
// presents its operational certificate), with how many such certificates there were.
struct ManifestReport {
  std::vector<ManifestBatchCounts> batches;
  int64_t unknown_attempts = 0;
  int64_t unknown_certificates = 0;
};

}  // namespace db
