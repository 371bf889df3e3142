// audit.h — the hash chain over enrollment_events: how a row's hash is computed, inserting a row
// into the chain, rebuilding the chain (schema migration 2) and verifying it.
// Private to db/.
//
// The chain (invariant, held by every event insert in db/):
//   row_hash(r) = SHA-256 hex of Encode("provisiond.enrollment_events.v2", r.id, r.time, r.peer,
//                 r.presented_fingerprint, r.presented_subject, r.device_id, r.endpoint,
//                 r.outcome, r.http_status, r.reason, r.serial, r.prev_hash)
//   prev_hash(r) = row_hash of the row with the next lower id, or kGenesisHash for the first row
//                 (since SQLite schema 12 / PostgreSQL 9 not stored: the walk reads it from that
//                 row, or for the first row of a truncated chain from audit_chain_base)
//   ids are consecutive from 1 (each insert takes max(id) + 1 under the write lock; a version 1
//   file keeps its ids, so a gap left there by a deletion before migration stays reported)
// Encode writes each field as its decimal byte length, ':' and its bytes (integers as decimal
// text), concatenated; a NULL (only serial can be NULL) is written as a lone '-', which no
// length starts with. Every field is self-delimiting, so two different rows never encode alike.
//
// What it can and cannot show (keep in step with Store::VerifyAuditChain in store.h):
//   - editing any covered column of a row: that row's hash no longer matches;
//   - deleting a row that has a successor: the successor no longer hashes with the row_hash now
//     before it, and its id follows a gap;
//   - NOT deleting (truncating) the newest rows: what is left is a valid, shorter chain. Only a
//     head hash recorded outside the database (AuditReport::head_hash, noted by an operator or
//     shipped to a log host) shows that;
//   - NOT a rewrite of the whole chain: the hash is unkeyed, so anyone able to write the file can
//     recompute every row after an edit. Again only an external head hash catches that;
//   - rows migrated from schema version 1 were chained when the migration ran, so the chain
//     vouches for them only from that moment on.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/statement.h"
#include "db/records.h"
#include "db/row_view.h"
#include "db/sql_session.h"
#include "db/tidy_records.h"

namespace db {

// prev_hash of the first row.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The chain's hashes as the store keeps them since SQLite schema version 11 / PostgreSQL 8: the 32
// bytes (BLOB / bytea, CHECK length 32), not 64 hex characters. In memory, in the hash encoding
// above, in checkpoints, archives and every output they stay lowercase hex, as EventRowHash
// returns them; these two convert at the column.
// ChainHashBytes: the bytes of a 64-character lowercase hex hash; empty for anything else (bound,
// empty is NULL, which the NOT NULL columns refuse).
std::vector<unsigned char> ChainHashBytes(std::string_view hex);
// ChainHashHex: a hash column as hex: 32 bytes as lowercase hex; any other value as its text (the
// text hashes of a store before those versions, which migrations 2 and 4 still read and write).
std::string ChainHashHex(const RowView& row, int column);

// row_hash of a row with these stored values. `event.serial_hex` is ignored: `serial` is the
// column as stored (nullopt for NULL). "" only if SHA-256 itself failed.
std::string EventRowHash(int64_t id, const EventRecord& event,
                         const std::optional<std::string>& serial, std::string_view prev_hash);

// How the chain's columns hold its hashes: since SQLite schema 12 / PostgreSQL 9 row_hash alone,
// 32 bytes (kLinked: the link is the previous row's row_hash; it also binds presented_fingerprint
// as bytes, so it writes schema 13 / PostgreSQL 10 stores); SQLite 11 / PostgreSQL 8 prev_hash
// and row_hash as 32 bytes (kBytes); before, both as hex text (kHex, which migrations 2 and 4 and
// the tests' old-store fixtures write).
enum class HashForm { kLinked, kBytes, kHex };

// Appends `event` to enrollment_events with the next id, its prev_hash and row_hash; `serial_hex`
// is stored as the serial ("" stores NULL). Must run inside a write transaction (BEGIN
// IMMEDIATE), which is what makes "the newest row" well defined across connections.
Result<void> InsertChainedEvent(Connection& db, const EventRecord& event,
                                std::string_view serial_hex, HashForm form = HashForm::kLinked);
// The same on a bare handle, for migrations 2 and 4 (their versions' hex text).
Result<void> InsertChainedEvent(sqlite3* db, const EventRecord& event,
                                std::string_view serial_hex, HashForm form = HashForm::kHex);

// Migration 2: copies every row of the v1 `enrollment_events` into `enrollment_events_v2`, in id
// order and keeping ids, computing prev_hash and row_hash. The caller owns the transaction.
Result<void> CopyEventsIntoChain(sqlite3* db);

// Walks the whole chain in id order; see store.h for the report. `query` runs on one consistent
// snapshot (the caller's read transaction); the same walk serves every backend. The first row
// must be base.first_id and link to base.prev_hash (a chain tidy truncated: db/audit_tidy.h);
// the default base is the genesis one.
Result<AuditReport> VerifyEventChain(const RowQuery& query, const ChainBase& base = {});

// At most `limit` rows with from_id <= id < before_id, in id order, with their chain columns;
// each row's prev_hash is the row_hash of the row below it (the first row's: row from_id - 1 if
// it is still there, else base.prev_hash if from_id is base.first_id, else "").
Result<std::vector<ChainRow>> SelectChainRows(SqlSession& db, int64_t from_id, int64_t before_id,
                                              int limit, const ChainBase& base);

// A RowQuery (row_view.h) for a query with one integer parameter, bound as $1.
using IdRowQuery =
    std::function<Result<void>(const char* sql, int64_t id, const RowVisitor& visit)>;

// Reads the chain's base (ReadChainBase over a store's session).
using BaseReader = std::function<Result<ChainBase>()>;

// Walks the chain from an audit checkpoint's row on (ids >= from_id, in id order). That row must
// exist, have row_hash == from_hash and hash correctly with the row_hash of the row below it
// (read, not counted) or, when that row is gone and from_id is the base's first_id, the base's
// prev_hash; with neither, the rows below it were deleted outside tidy: ok=false (read_base and
// the walk are read once more first, in case a tidy cut the chain at that row between the two).
// Each later row must link to the one before it as in VerifyEventChain. Nothing else below
// from_id is read, so rows below it may be gone (a retention that keeps the checkpoint's row).
// `query` binds from_id - 1 as $1. rows_checked counts the rows walked (the checkpoint's
// included). kInternal for from_id < 1.
Result<AuditReport> VerifyEventChainFrom(const IdRowQuery& query, int64_t from_id,
                                         std::string_view from_hash, const BaseReader& read_base);

}  // namespace db
