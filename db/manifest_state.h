// manifest_state.h — a factory manifest's state event in the audit chain ("manifest_imported")
// and its part of the cross-check of the state tables against the chain (audit_state.h).
// Private to db/.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "db/manifest_records.h"
#include "db/records.h"
#include "db/row_view.h"

namespace db {

// SHA-256 (hex) of a batch's rows: "device_id,bootstrap_sha256\n" for each, sorted by device id
// byte-wise (done here, not by the database, whose collation may differ).
std::string ManifestRowsSha256(std::vector<ManifestRow> rows);

// The state event of one imported batch: outcome "manifest_imported", reason
//   batch="B" file_sha256="F" rows="N" rows_sha256="H" imported_at="T"
// with the quoting of audit_state.h. rows_sha256 covers the rows as stored, so a manifest row
// added, removed or edited by hand no longer matches the chain (`audit verify` names the batch).
EventRecord ManifestImportedEvent(std::string_view batch, std::string_view file_sha256,
                                  int64_t row_count, std::string_view rows_sha256,
                                  std::string_view imported_at);

// Every batch as the chain should record it now, with the row's name for a report ("manifest
// batch B"): read whole, in the audit check's snapshot.
Result<std::vector<std::pair<EventRecord, std::string>>> ManifestState(const RowQuery& query);

}  // namespace db
