// pg_chain.cc — the audit chain's append on PostgreSQL: id and prev_hash from the audit_head row
// (which the write transaction has locked from its first statement: InPgWriteTransaction, a
// Writer batch), the event row, and the head advanced to it, so under READ COMMITTED each writer
// reads what the previous lock holder committed and the chain cannot fork. The event's row_hash is
// stored as bytes (audit.h, ChainHashBytes), its prev_hash (audit_head's) is hashed, not stored
// (PostgreSQL 9); audit_head keeps the head's as hex text.
#include <optional>
#include <string>
#include <vector>

#include "db/audit.h"
#include "db/pg_ops.h"

namespace db {
namespace {

constexpr const char* kSelectHead = "SELECT last_id, last_hash FROM audit_head WHERE id = 1";
constexpr const char* kInsertEvent =
    "INSERT INTO enrollment_events (id, time, peer, presented_fingerprint, presented_subject, "
    "device_id, endpoint, outcome, http_status, reason, serial, row_hash) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
constexpr const char* kAdvanceHead =
    "UPDATE audit_head SET last_id = $1, last_hash = $2 WHERE id = 1";

}  // namespace

Result<void> PgAppendEvent(PgConn& db, const EventRecord& event, std::string_view serial_hex) {
  auto head = db.Query(kSelectHead);
  if (!head) return std::unexpected(head.error());
  if (head->empty()) return base::Fail(Code::kCorrupt, "audit_head: the row with id 1 is missing");
  const int64_t id = head->Row(0).Int(0) + 1;
  const std::string prev_hash = head->Row(0).Text(1);
  std::optional<std::string> serial;
  if (!serial_hex.empty()) serial = std::string(serial_hex);
  const std::string row_hash = EventRowHash(id, event, serial, prev_hash);
  if (row_hash.empty()) return base::Fail(Code::kInternal, "mbedtls_sha256 failed for event hash");
  auto params = PgParams().Int(id).Text(event.time).Text(event.peer);
  // 32 bytes, NULL for none; anything else as its text, which the CHECK (length 32) refuses, as
  // the hex CHECK did before (row_read.cc, SqlParams::Sha256): never NULL for a hashed value.
  const std::vector<unsigned char> presented = ChainHashBytes(event.presented_fingerprint);
  if (presented.empty() && !event.presented_fingerprint.empty()) {
    params.Text(event.presented_fingerprint);
  } else {
    params.Bytes(presented);
  }
  params.Text(event.presented_subject)
      .Text(event.device_id)
      .Text(event.endpoint)
      .Text(event.outcome)
      .Int(event.http_status)
      .Text(event.reason)
      .OptionalText(serial)
      .Bytes(ChainHashBytes(row_hash));
  if (auto r = db.Run(kInsertEvent, params); !r) return std::unexpected(r.error());
  if (auto r = db.Run(kAdvanceHead, PgParams().Int(id).Text(row_hash)); !r) {
    return std::unexpected(r.error());
  }
  return {};
}

}  // namespace db
