// schema_chain_bytes.cc — SQLite migration 11 (schema_chain_bytes.h): enrollment_events rebuilt
// with the chain's hashes as 32-byte BLOBs.
#include "db/schema_chain_bytes.h"

#include <string_view>
#include <vector>

#include "db/audit.h"
#include "db/statement.h"

namespace db {
namespace {

// clang-format off (the SQL below is laid out for reading, as `.schema` shows it)
#define PROVISIOND_ISO8601_GLOB \
  "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'"
#define PROVISIOND_SHA256(column) \
  "(length(" column ") = 64 AND " column " <> '' AND " column " NOT GLOB '*[^0-9a-f]*')"
// Invariants: as version 2's (db/schema.cc), the hashes now 32 bytes each; the rows keep their
// ids, so the chain and every checkpoint of it stay valid. The indexes are those version 10 had.
constexpr const char* kRebuildEvents = R"sql(
CREATE TABLE enrollment_events_v11 (
  id INTEGER PRIMARY KEY,
  time TEXT NOT NULL CHECK (time GLOB )sql" PROVISIOND_ISO8601_GLOB R"sql(),
  peer TEXT NOT NULL,
  presented_fingerprint TEXT NOT NULL
    CHECK (presented_fingerprint = '' OR )sql" PROVISIOND_SHA256("presented_fingerprint") R"sql(),
  presented_subject TEXT NOT NULL,
  device_id TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome <> ''),
  http_status INTEGER NOT NULL CHECK (http_status = 0 OR http_status BETWEEN 100 AND 599),
  reason TEXT NOT NULL,
  serial TEXT NULL REFERENCES certificates (serial),
  prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),
  row_hash BLOB NOT NULL CHECK (length(row_hash) = 32),
  CHECK (serial IS NULL OR outcome = 'issued')
) STRICT;
INSERT INTO enrollment_events_v11 (id, time, peer, presented_fingerprint, presented_subject,
  device_id, endpoint, outcome, http_status, reason, serial, prev_hash, row_hash)
SELECT id, time, peer, presented_fingerprint, presented_subject, device_id, endpoint, outcome,
  http_status, reason, serial, provisiond_hash_bytes(prev_hash), provisiond_hash_bytes(row_hash)
FROM enrollment_events ORDER BY id;
DROP TABLE enrollment_events;
ALTER TABLE enrollment_events_v11 RENAME TO enrollment_events;
CREATE INDEX enrollment_events_time ON enrollment_events (time) WHERE outcome <> 'issued';
CREATE INDEX enrollment_events_server_key ON enrollment_events (time)
  WHERE reason = 'issued_server_key';
CREATE INDEX enrollment_events_presented_fingerprint ON enrollment_events (presented_fingerprint)
  WHERE presented_fingerprint <> '';
)sql";
#undef PROVISIOND_SHA256
#undef PROVISIOND_ISO8601_GLOB
// clang-format on

constexpr const char* kFunction = "provisiond_hash_bytes";

// provisiond_hash_bytes(hex): the 32 bytes of a hex hash (ChainHashBytes), NULL for anything else.
void HashBytes(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  const auto* text = sqlite3_value_text(argv[0]);
  const int size = sqlite3_value_bytes(argv[0]);
  const std::vector<unsigned char> bytes =
      text == nullptr ? std::vector<unsigned char>{}
                      : ChainHashBytes(std::string_view(reinterpret_cast<const char*>(text),
                                                        static_cast<size_t>(size)));
  if (bytes.empty()) {
    sqlite3_result_null(context);
  } else {
    sqlite3_result_blob(context, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  }
}

// The function, registered on the connection for the migration's statements only.
class HashBytesFunction {
 public:
  explicit HashBytesFunction(sqlite3* db) : db_(db) {
    rc_ = sqlite3_create_function_v2(db, kFunction, 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                     HashBytes, nullptr, nullptr, nullptr);
  }
  ~HashBytesFunction() {
    if (rc_ == SQLITE_OK) {
      sqlite3_create_function_v2(db_, kFunction, 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                 nullptr, nullptr, nullptr, nullptr);
    }
  }
  HashBytesFunction(const HashBytesFunction&) = delete;
  HashBytesFunction& operator=(const HashBytesFunction&) = delete;
  int rc() const { return rc_; }

 private:
  sqlite3* db_;
  int rc_;
};

}  // namespace

Result<void> ExecWithHashBytes(sqlite3* db, const char* sql) {
  HashBytesFunction function(db);
  if (function.rc() != SQLITE_OK) {
    return std::unexpected(SqliteError(db, function.rc(), "sqlite3_create_function_v2"));
  }
  return Exec(db, sql);
}

Result<void> MigrateChainBytes(sqlite3* db) { return ExecWithHashBytes(db, kRebuildEvents); }

}  // namespace db
