// audit_from.h — the audit chain's walk from a checkpoint's row on, on either backend (the
// checkpoint itself, its file and signature, is ca/audit_checkpoint.h; its use, admin_audit.cc).
#pragma once

#include <cstdint>
#include <string_view>

#include "db/records.h"
#include "db/store.h"

namespace db {

// The chain from an audit checkpoint on (db/audit.h VerifyEventChainFrom): row `id` must exist
// with row_hash `row_hash` (what the checkpoint recorded) and hash correctly, and every later row
// must link to it with consecutive ids; one statement (`WHERE id >= $1`, the primary key's range),
// so one snapshot. Reads only rows with id >= `id`: its cost is theirs, not the store's. The
// state tables are not cross-checked (that needs every state event: Store::VerifyAuditChain).
// On PostgreSQL the walk is bounded by the store's statement timeout. A failed check is a report
// with ok=false, not an error; head_hash is the newest row's, and when ok the newest row's id is
// id + rows_checked - 1. kInternal for a store of neither backend or id < 1.
Result<AuditReport> VerifyAuditChainFrom(Store& store, int64_t id, std::string_view row_hash);

}  // namespace db
