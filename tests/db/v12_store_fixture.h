// v12_store_fixture.h — a store written by this version put back into the form of SQLite schema
// 12 / PostgreSQL 9 (the SHA-256 columns as lowercase hex text, presented_fingerprint '' for
// none; db/schema_sha256_bytes.h undone), so that a test can migrate a store of the previous
// version. Used by sha256_bytes_migration_test.cc and, before their own steps back, by the
// older migrations' tests (chain_store_fixture.h).
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "db/pg_conn.h"
#include "db/schema.h"
#include "db/schema_sha256_bytes.h"
#include "tests/db/sqlite_fixture.h"
#include "tests/db/store_fixture.h"

namespace db::testing {

// The tables migration 13 / PostgreSQL 10 changed and their SHA-256 columns.
struct HashTable {
  const char* name;
  bool rowid;  // copy the rowid (not a WITHOUT ROWID table)
  std::vector<std::string> columns;
};
inline const std::vector<HashTable>& HashTables() {
  static const std::vector<HashTable> tables = {
      {"certificates",
       true,
       {"fingerprint_sha256", "public_key_sha256", "auth_cert_fingerprint", "tbs_sha256"}},
      {"issuance_intents", true, {"public_key_sha256", "auth_cert_fingerprint", "tbs_sha256"}},
      {"enroll_tombstones", false, {"auth_cert_fingerprint"}},
      {"manifest_devices", true, {"bootstrap_sha256"}},
      {"enrollment_events", true, {"presented_fingerprint"}},
  };
  return tables;
}

// The hex text version 12 held for a bytes column: '' for a NULL presented_fingerprint, NULL for
// a NULL tbs_sha256 (hex(NULL) is '').
inline std::string HexOf(const std::string& column) {
  if (column == "presented_fingerprint") return "lower(hex(presented_fingerprint))";
  return "CASE WHEN " + column + " IS NULL THEN NULL ELSE lower(hex(" + column + ")) END";
}

// Every schema entry of those tables and of active_certificates, as sqlite_master holds them.
inline std::string SqliteHashTablesSchema(sqlite3* db) {
  return QueryRaw(db,
                  "SELECT group_concat(type || ' ' || name || ': ' || sql, char(10)) FROM (SELECT "
                  "type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND tbl_name IN "
                  "('certificates', 'issuance_intents', 'enroll_tombstones', 'manifest_devices', "
                  "'enrollment_events', 'active_certificates') ORDER BY tbl_name, type, name)");
}

// SQLite: each table recreated from a fresh version 12 file's own statements (so its schema is
// exactly version 12's), rows copied with their rowids, hashes back to hex; then the view.
inline void SqliteBackToV12(const std::string& path) {
  TempDir fresh_dir;
  RawDb fresh = OpenRaw(fresh_dir.File("v12.db"), /*create=*/true);
  REQUIRE(MigrateTo(fresh.get(), kSha256BytesFromVersion).has_value());
  RawDb raw = OpenRaw(path);
  std::string sql =
      "PRAGMA foreign_keys = OFF; PRAGMA legacy_alter_table = ON; BEGIN IMMEDIATE; "
      "DROP VIEW active_certificates;\n";
  for (const HashTable& t : HashTables()) {
    const std::string name = t.name;
    const std::string old = name + "_v13";
    sql += "ALTER TABLE " + name + " RENAME TO " + old + ";\n";
    sql += QueryRaw(raw.get(),
                    "SELECT group_concat('DROP INDEX ' || name || ';', char(10)) "
                    "FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                    "AND tbl_name = '" +
                        name + "'") +
           "\n";
    sql += QueryRaw(fresh.get(), "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '" +
                                     name + "'") +
           ";\n";
    std::string columns = t.rowid ? "rowid" : "";
    std::string values = columns;
    const std::string names = QueryRaw(
        fresh.get(), "SELECT group_concat(name, ' ') FROM pragma_table_info('" + name + "')");
    size_t at = 0;
    while (at < names.size()) {
      size_t end = names.find(' ', at);
      if (end == std::string::npos) end = names.size();
      const std::string column = names.substr(at, end - at);
      at = end + 1;
      bool hash = false;
      for (const std::string& c : t.columns) hash = hash || c == column;
      columns += (columns.empty() ? "" : ", ") + column;
      values += (values.empty() ? "" : ", ") + (hash ? HexOf(column) : column);
    }
    sql += "INSERT INTO " + name + " (" + columns + ") SELECT " + values + " FROM " + old + ";\n";
    sql += "DROP TABLE " + old + ";\n";
    sql += QueryRaw(fresh.get(),
                    "SELECT group_concat(sql, ';' || char(10)) FROM sqlite_master "
                    "WHERE type = 'index' AND sql IS NOT NULL AND tbl_name = '" +
                        name + "'") +
           ";\n";
  }
  sql += QueryRaw(fresh.get(), "SELECT sql FROM sqlite_master WHERE name = 'active_certificates'") +
         ";\nPRAGMA user_version = 12; COMMIT; PRAGMA foreign_keys = ON; "
         "PRAGMA legacy_alter_table = OFF;";
  ExecRaw(raw.get(), sql);
  CHECK(SqliteHashTablesSchema(raw.get()) == SqliteHashTablesSchema(fresh.get()));
}

// PostgreSQL: the columns back to hex text with version 9's CHECKs (PostgreSQL's default names),
// presented_fingerprint NOT NULL with '' for none, its index and the view as version 9 had them.
inline void PgBackToV9(PgConn& db) {
  std::vector<std::string> sql = {"BEGIN", "DROP VIEW active_certificates",
                                  "DROP INDEX enrollment_events_presented_fingerprint"};
  for (const HashTable& t : HashTables()) {
    for (const std::string& c : t.columns) {
      const std::string check = std::string(t.name) + "_" + c + "_check";
      const bool presented = c == "presented_fingerprint";
      sql.push_back(
          "ALTER TABLE " + std::string(t.name) + " DROP CONSTRAINT " + check + ", ALTER COLUMN " +
          c + " TYPE text USING " +
          (presented ? "coalesce(encode(" + c + ", 'hex'), '')" : "encode(" + c + ", 'hex')") +
          (presented ? ", ALTER COLUMN " + c + " SET NOT NULL" : "") + ", ADD CONSTRAINT " + check +
          " CHECK (" + (presented ? c + " = '' OR " : "") + c + " ~ '^[0-9a-f]{64}$')");
    }
  }
  sql.push_back(
      "CREATE INDEX enrollment_events_presented_fingerprint ON enrollment_events "
      "(presented_fingerprint) WHERE presented_fingerprint <> ''");
  sql.push_back(
      "CREATE VIEW active_certificates AS SELECT id, serial, device_id, subject, san, "
      "not_before, not_after, der, fingerprint_sha256, public_key_sha256, auth_cert_issuer, "
      "auth_cert_serial, auth_cert_fingerprint, kind, peer, issued_at FROM certificates WHERE "
      "revoked_at IS NULL AND not_after > to_char(now() AT TIME ZONE 'UTC', "
      "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
  sql.push_back("UPDATE schema_version SET version = 9");
  sql.push_back("COMMIT");
  for (const std::string& s : sql) {
    auto ran = db.Run(s.c_str());
    REQUIRE_MESSAGE(ran.has_value(), s << ": " << (ran ? "" : ran.error().detail));
  }
}

// PostgreSQL: the columns, constraints and indexes of those tables and the view's definition.
inline constexpr const char* kPgHashTablesSchema =
    "SELECT (SELECT string_agg(table_name || '.' || column_name || ' ' || data_type || ' ' || "
    "is_nullable, ',' ORDER BY table_name, column_name) FROM information_schema.columns WHERE "
    "table_name IN ('certificates', 'issuance_intents', 'enroll_tombstones', 'manifest_devices', "
    "'enrollment_events', 'active_certificates')) || ';' || (SELECT string_agg(conname || ' ' || "
    "pg_get_constraintdef(oid), ';' ORDER BY conname) FROM pg_constraint WHERE conrelid IN "
    "('certificates'::regclass, 'issuance_intents'::regclass, 'enroll_tombstones'::regclass, "
    "'manifest_devices'::regclass, 'enrollment_events'::regclass)) || ';' || (SELECT "
    "string_agg(indexdef, ';' ORDER BY indexname) FROM pg_indexes WHERE tablename IN "
    "('certificates', 'issuance_intents', 'enroll_tombstones', 'manifest_devices', "
    "'enrollment_events')) || ';' || pg_get_viewdef('active_certificates'::regclass)";

}  // namespace db::testing
