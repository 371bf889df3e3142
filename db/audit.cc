// audit.cc — the enrollment_events hash chain: canonical encoding, append, migration rebuild and
// verification. The invariant and its limits are written down in audit.h.
#include "db/audit.h"

#include <limits>
#include <optional>
#include <span>

#include "ca/encoding.h"
#include "db/row_read.h"
#include "db/statement.h"

namespace db {
namespace {

// Names the encoding; a future change to it would get a new tag (and a migration).
constexpr std::string_view kHashTag = "provisiond.enrollment_events.v2";

// The covered columns, in the order EventRowHash takes them, followed by prev_hash and row_hash.
#define PROVISIOND_EVENT_HASHED_COLUMNS                                                      \
  "id, time, peer, presented_fingerprint, presented_subject, device_id, endpoint, outcome, " \
  "http_status, reason, serial"

constexpr const char* kSelectHead =
    "SELECT id, row_hash FROM enrollment_events ORDER BY id DESC LIMIT 1";
// Since SQLite schema 12 / PostgreSQL 9 (HashForm::kLinked): no prev_hash column.
constexpr const char* kInsertLinked =
    "INSERT INTO enrollment_events (" PROVISIOND_EVENT_HASHED_COLUMNS
    ", row_hash) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
// The versions before (HashForm::kBytes, kHex), which migrations and old-store fixtures write.
constexpr const char* kInsertChained =
    "INSERT INTO enrollment_events (" PROVISIOND_EVENT_HASHED_COLUMNS
    ", prev_hash, row_hash) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
constexpr const char* kSelectV1Events =
    "SELECT " PROVISIOND_EVENT_HASHED_COLUMNS " FROM enrollment_events ORDER BY id";
constexpr const char* kInsertV2Event =
    "INSERT INTO enrollment_events_v2 (" PROVISIOND_EVENT_HASHED_COLUMNS
    ", prev_hash, row_hash) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
// The walks read each row's covered columns and row_hash (column 11); a row's prev_hash is the
// row_hash of the row read before it, so a walk from a given id also reads the row below it as
// its first row's link: $1 is that row's id (bound here: `$1 - 1` would make PostgreSQL type $1
// as a 32-bit integer).
constexpr const char* kSelectChain = "SELECT " PROVISIOND_EVENT_HASHED_COLUMNS
                                     ", row_hash FROM enrollment_events ORDER BY id";
// The same from a checkpoint's row on ($1: the id below it), on the primary key's range.
constexpr const char* kSelectChainFrom = "SELECT " PROVISIOND_EVENT_HASHED_COLUMNS
                                         ", row_hash FROM enrollment_events "
                                         "WHERE id >= $1 ORDER BY id";
// The link row $1 and rows ($1, $2), at most $3 rows in all, for tidy's archive.
constexpr const char* kSelectChainRange = "SELECT " PROVISIOND_EVENT_HASHED_COLUMNS
                                          ", row_hash FROM enrollment_events "
                                          "WHERE id >= $1 AND id < $2 ORDER BY id LIMIT $3";
#undef PROVISIOND_EVENT_HASHED_COLUMNS

void AppendField(std::string& out, std::string_view bytes) {
  out += std::to_string(bytes.size());
  out += ':';
  out += bytes;
}

// One stored row's covered columns, as read by the SELECTs above (columns 0..10).
struct StoredEvent {
  int64_t id = 0;
  EventRecord event;
  std::optional<std::string> serial;
};

StoredEvent ReadStoredEvent(const RowView& stmt) {
  StoredEvent row;
  row.id = stmt.Int(0);
  row.event.time = stmt.Text(1);
  row.event.peer = stmt.Text(2);
  row.event.presented_fingerprint = Sha256Column(stmt, 3);
  row.event.presented_subject = stmt.Text(4);
  row.event.device_id = stmt.Text(5);
  row.event.endpoint = stmt.Text(6);
  row.event.outcome = stmt.Text(7);
  row.event.http_status = static_cast<int>(stmt.Int(8));
  row.event.reason = stmt.Text(9);
  if (!stmt.IsNull(10)) row.serial = stmt.Text(10);
  return row;
}

// Binds a row into kInsertLinked (kLinked: row_hash, presented_fingerprint as bytes) or
// kInsertChained / kInsertV2Event (same numbers), the hashes as 32 bytes or hex text (`form`).
Result<void> InsertRow(Statement& stmt, const StoredEvent& row, std::string_view prev_hash,
                       std::string_view row_hash, HashForm form) {
  stmt.BindInt(1, row.id);
  stmt.BindText(2, row.event.time);
  stmt.BindText(3, row.event.peer);
  BindSha256(stmt, 4, row.event.presented_fingerprint, form == HashForm::kLinked);
  stmt.BindText(5, row.event.presented_subject);
  stmt.BindText(6, row.event.device_id);
  stmt.BindText(7, row.event.endpoint);
  stmt.BindText(8, row.event.outcome);
  stmt.BindInt(9, row.event.http_status);
  stmt.BindText(10, row.event.reason);
  stmt.BindOptionalText(11, row.serial);
  if (form == HashForm::kLinked) {
    stmt.BindBlob(12, ChainHashBytes(row_hash));
  } else if (form == HashForm::kBytes) {
    stmt.BindBlob(12, ChainHashBytes(prev_hash));
    stmt.BindBlob(13, ChainHashBytes(row_hash));
  } else {
    stmt.BindText(12, prev_hash);
    stmt.BindText(13, row_hash);
  }
  return stmt.Run();
}

Result<std::string> HashOrFail(const StoredEvent& row, std::string_view prev_hash) {
  std::string hash = EventRowHash(row.id, row.event, row.serial, prev_hash);
  if (hash.empty()) return Fail(Code::kInternal, "mbedtls_sha256 failed for event row hash");
  return hash;
}

}  // namespace

std::vector<unsigned char> ChainHashBytes(std::string_view hex) {
  std::vector<unsigned char> bytes;
  if (hex.size() != 64) return bytes;
  auto nibble = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  bytes.reserve(32);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return {};
    bytes.push_back(static_cast<unsigned char>(hi * 16 + lo));
  }
  return bytes;
}

std::string ChainHashHex(const RowView& row, int column) {
  const std::vector<unsigned char> bytes = row.Blob(column);
  if (bytes.size() == 32) return ca::HexLower(bytes);
  return row.Text(column);
}

std::string EventRowHash(int64_t id, const EventRecord& event,
                         const std::optional<std::string>& serial, std::string_view prev_hash) {
  std::string encoded;
  AppendField(encoded, kHashTag);
  AppendField(encoded, std::to_string(id));
  AppendField(encoded, event.time);
  AppendField(encoded, event.peer);
  AppendField(encoded, event.presented_fingerprint);
  AppendField(encoded, event.presented_subject);
  AppendField(encoded, event.device_id);
  AppendField(encoded, event.endpoint);
  AppendField(encoded, event.outcome);
  AppendField(encoded, std::to_string(event.http_status));
  AppendField(encoded, event.reason);
  if (serial) {
    AppendField(encoded, *serial);
  } else {
    encoded += '-';
  }
  AppendField(encoded, prev_hash);
  return ca::Sha256Hex(
      std::span(reinterpret_cast<const unsigned char*>(encoded.data()), encoded.size()));
}

namespace {

// InsertChainedEvent's body; `prepare` compiles a statement on the connection in use.
template <typename Prepare>
Result<void> AppendChained(Prepare&& prepare, const EventRecord& event,
                           std::string_view serial_hex, HashForm form) {
  auto head = prepare(kSelectHead);
  if (!head) return std::unexpected(head.error());
  auto found = head->Step();
  if (!found) return std::unexpected(found.error());
  StoredEvent row;
  row.event = event;
  if (!serial_hex.empty()) row.serial = std::string(serial_hex);
  std::string prev_hash(kGenesisHash);
  row.id = 1;
  if (*found) {
    if (head->Int(0) == std::numeric_limits<int64_t>::max()) {
      return Fail(Code::kFull, "enrollment_events: no id left after the newest row");
    }
    row.id = head->Int(0) + 1;
    prev_hash = ChainHashHex(*head, 1);
  }
  auto row_hash = HashOrFail(row, prev_hash);
  if (!row_hash) return std::unexpected(row_hash.error());
  auto insert = prepare(form == HashForm::kLinked ? kInsertLinked : kInsertChained);
  if (!insert) return std::unexpected(insert.error());
  return InsertRow(*insert, row, prev_hash, *row_hash, form);
}

// One walk over chain rows in id order: the whole chain, or (from_id > 0) the rows from a
// checkpoint's row on, that row's stored hash required to be from_hash. Each row is rehashed with
// the stored row_hash of the row before it as its prev_hash (the column is gone since SQLite 12 /
// PostgreSQL 9); the first row of the whole chain with base.prev_hash, the checkpoint's row with
// its link: the row below it when the query returned it (not counted), else `link` (the base,
// when that row is the first one kept), else none: rows below it were deleted outside tidy and
// the walk fails (link_missing()), as from_hash alone would not bind the row's other columns.
class ChainWalk {
 public:
  // from_id 0: the whole chain, from `base` (its first row and that row's prev_hash).
  ChainWalk(int64_t from_id, std::string_view from_hash, const ChainBase& base = {},
            std::optional<std::string> link = std::nullopt)
      : from_id_(from_id), from_hash_(from_hash),
        prev_id_(from_id > 0 ? from_id - 1 : base.first_id - 1), expected_prev_(std::move(link)) {
    report_ = AuditReport{.ok = true, .rows_checked = 0, .first_bad_id = {}, .problem = {},
                          .head_hash = std::string(kGenesisHash)};
    if (from_id == 0) {
      expected_prev_ = base.prev_hash.empty() ? std::string(kGenesisHash) : base.prev_hash;
    }
  }

  void Visit(const RowView& stored) {
    StoredEvent row = ReadStoredEvent(stored);
    std::string row_hash = ChainHashHex(stored, 11);
    const bool first = !visited_;
    visited_ = true;
    if (first && from_id_ > 0 && row.id == from_id_ - 1) {
      expected_prev_ = std::move(row_hash);  // the checkpoint's link, not itself checked
      return;
    }
    ++report_.rows_checked;
    if (report_.ok && !hash_error_) Check(row, row_hash);
    // Link to what is stored, not to what was recomputed, so one altered row is reported once
    // rather than making every later row look bad too.
    expected_prev_ = row_hash;
    prev_id_ = row.id;
    report_.head_id = row.id;
    report_.head_hash = std::move(row_hash);
  }

  bool link_missing() const { return link_missing_; }

  Result<AuditReport> Finish() {
    if (hash_error_) return std::unexpected(*hash_error_);
    if (from_id_ > 0 && report_.rows_checked == 0) {
      Bad(from_id_, "row " + std::to_string(from_id_) +
                        " (the checkpoint's) is gone: the chain was cut at or below it");
    }
    return report_;
  }

 private:
  void Check(const StoredEvent& row, const std::string& row_hash) {
    std::string id = std::to_string(row.id);
    std::string after = std::to_string(prev_id_);
    const bool first_from_checkpoint = from_id_ > 0 && report_.rows_checked == 1;
    if (first_from_checkpoint && row.id != from_id_) {
      Bad(row.id, "row " + std::to_string(from_id_) + " (the checkpoint's) is gone: row " + id +
                      " is the first at or after it");
      return;
    }
    if (first_from_checkpoint && !expected_prev_) {
      link_missing_ = true;
      return Bad(row.id, "row " + std::to_string(row.id - 1) + ", the link of row " + id +
                             " (the checkpoint's), is gone and the chain's base does not start at"
                             " row " + id + ": rows below the checkpoint were deleted outside tidy");
    }
    if (expected_prev_) {
      auto recomputed = HashOrFail(row, *expected_prev_);
      if (!recomputed) {
        hash_error_ = recomputed.error();
        return;
      }
      if (*recomputed != row_hash && row.id != prev_id_ + 1) {
        // Without the row before it, a row cannot hash as stored: rows were deleted.
        Bad(row.id, prev_id_ == 0 ? "row " + id + " is first but does not link to the genesis " +
                                        "value (the rows before it were deleted)"
                                  : "row " + id + " follows a deleted row (prev_hash mismatch " +
                                        "after id " + after + ")");
        return;
      }
      if (*recomputed != row_hash) return Bad(row.id, "row " + id + " was altered (hash mismatch)");
    }
    if (first_from_checkpoint && row_hash != from_hash_) {
      Bad(row.id, "row " + id + " does not match the checkpoint (the chain was rewritten at or " +
                      "below it)");
    } else if (row.id != prev_id_ + 1) {
      // Linked correctly yet not consecutive: rows were deleted and the chain recomputed.
      Bad(row.id, "row " + id + " follows a gap in ids after id " + after +
                      " (rows deleted and the chain rewritten)");
    }
  }

  void Bad(int64_t id, std::string problem) {
    report_.ok = false;
    report_.first_bad_id = id;
    report_.problem = std::move(problem);
  }

  const int64_t from_id_;
  const std::string from_hash_;
  int64_t prev_id_;
  std::optional<std::string> expected_prev_;  // unset: the checkpoint's row, its link not known
  bool visited_ = false;
  bool link_missing_ = false;
  std::optional<Error> hash_error_;
  AuditReport report_;
};

}  // namespace

Result<void> InsertChainedEvent(Connection& db, const EventRecord& event,
                                std::string_view serial_hex, HashForm form) {
  return AppendChained([&](const char* sql) { return db.Prepare(sql); }, event, serial_hex, form);
}

Result<void> InsertChainedEvent(sqlite3* db, const EventRecord& event,
                                std::string_view serial_hex, HashForm form) {
  return AppendChained([&](const char* sql) { return Statement::Prepare(db, sql); }, event,
                       serial_hex, form);
}

Result<void> CopyEventsIntoChain(sqlite3* db) {
  auto select = Statement::Prepare(db, kSelectV1Events);
  if (!select) return std::unexpected(select.error());
  std::string prev_hash(kGenesisHash);
  for (;;) {
    auto found = select->Step();
    if (!found) return std::unexpected(found.error());
    if (!*found) return {};
    StoredEvent row = ReadStoredEvent(*select);
    auto row_hash = HashOrFail(row, prev_hash);
    if (!row_hash) return std::unexpected(row_hash.error());
    auto insert = Statement::Prepare(db, kInsertV2Event);
    if (!insert) return std::unexpected(insert.error());
    if (auto inserted = InsertRow(*insert, row, prev_hash, *row_hash, HashForm::kHex); !inserted) {
      return inserted;
    }
    prev_hash = std::move(*row_hash);
  }
}

Result<AuditReport> VerifyEventChain(const RowQuery& query, const ChainBase& base) {
  ChainWalk walk(0, "", base);
  auto walked = query(kSelectChain, [&](const RowView& stored) { walk.Visit(stored); });
  if (!walked) return std::unexpected(walked.error());
  return walk.Finish();
}

Result<AuditReport> VerifyEventChainFrom(const IdRowQuery& query, int64_t from_id,
                                         std::string_view from_hash, const BaseReader& read_base) {
  if (from_id < 1) return Fail(Code::kInternal, "a checkpoint's row id is 1 or more");
  for (int attempt = 0;; ++attempt) {
    auto base = read_base();
    if (!base) return std::unexpected(base.error());
    std::optional<std::string> link;
    if (from_id == base->first_id) {
      link = base->prev_hash.empty() ? std::string(kGenesisHash) : base->prev_hash;
    }
    ChainWalk walk(from_id, from_hash, {}, std::move(link));
    auto walked =
        query(kSelectChainFrom, from_id - 1, [&](const RowView& stored) { walk.Visit(stored); });
    if (!walked) return std::unexpected(walked.error());
    // Base and rows are two statements: a tidy cutting the chain at the checkpoint's row between
    // them looks like a missing link once; read both again, and a link still missing is one.
    if (walk.link_missing() && attempt == 0) continue;
    return walk.Finish();
  }
}

Result<std::vector<ChainRow>> SelectChainRows(SqlSession& db, int64_t from_id, int64_t before_id,
                                              int limit, const ChainBase& base) {
  std::vector<ChainRow> rows;
  // The first row's prev_hash: the row below it (read first, not returned), or the base's.
  std::string prev_hash;
  if (from_id == base.first_id) {
    prev_hash = base.prev_hash.empty() ? std::string(kGenesisHash) : base.prev_hash;
  }
  auto done = db.Query(kSelectChainRange,
                       SqlParams().Int(from_id - 1).Int(before_id).Int(int64_t{limit} + 1),
                       [&](const RowView& stored) {
                         StoredEvent row = ReadStoredEvent(stored);
                         std::string row_hash = ChainHashHex(stored, 11);
                         if (row.id < from_id) {
                           prev_hash = std::move(row_hash);
                           return;
                         }
                         if (static_cast<int>(rows.size()) >= limit) return;
                         rows.push_back(ChainRow{.id = row.id,
                                                 .event = std::move(row.event),
                                                 .serial = std::move(row.serial),
                                                 .prev_hash = prev_hash,
                                                 .row_hash = row_hash});
                         prev_hash = std::move(row_hash);
                       });
  if (!done) return std::unexpected(done.error());
  return rows;
}

}  // namespace db
