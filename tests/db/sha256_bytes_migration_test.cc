// sha256_bytes_migration_test.cc — the SHA-256 columns as 32 bytes (SQLite migration 13,
// PostgreSQL 10; db/schema_sha256_bytes.h). A store with enrollments, a revocation, a block, CA
// generations, a chain tidy truncated (audit_chain_base), a removed certificate's tombstone, a
// pending intent, a manifest and a re-bootstrap grant is put back into the previous version's form
// (v12_store_fixture.h, checked against a fresh store of that version), migrated, and then: every
// row and hash kept (as hex, the same as before), the view still hex, audit verify (whole and
// from a checkpoint taken before), list, revoke, tidy, the archive's check, the manifest report
// and the pending intent's Complete work; lookups by these hashes find the rows.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "db/pg_conn.h"
#include "db/pg_schema.h"
#include "db/pg_store.h"
#include "db/schema.h"
#include "db/schema_sha256_bytes.h"
#include "tests/db/admin_writes.h"
#include "tests/db/backend.h"
#include "tests/db/chain_store_fixture.h"
#include "tests/db/pg_v1_store_fixture.h"
#include "tests/db/sqlite_fixture.h"
#include "tests/db/v12_store_fixture.h"

namespace db::testing {
namespace {

// device-1 (enrolled with HashHex(1, 'c')) and a device never seen.
ManifestImport Manifest() {
  return ManifestImport{
      .batch = "line-a",
      .file_sha256 = HashHex(90, 'f'),
      .rows = {{"device-1", HashHex(1, 'c'), 2}, {"device-9", HashHex(9, 'b'), 3}},
      .imported_at = "2026-01-03T00:00:00Z"};
}

// Populate, a manifest, a grant, an attempt without a certificate (presented_fingerprint '').
void PopulateAll(Store& store) {
  Populate(store);
  auto imported = store.ImportManifest(Manifest());
  REQUIRE_MESSAGE(imported.has_value(), (imported ? "" : imported.error().detail));
  REQUIRE(imported->status == ManifestImportStatus::kImported);
  const RebootstrapGrant grant{.device_id = "device-1",
                               .reason = "factory reset",
                               .granted_at = "2026-01-04T00:00:00Z",
                               .expires_at = "2099-01-01T00:00:00Z"};
  REQUIRE(GrantAsAdmin(store, grant).value().has_value());
  EventRecord bare = SampleEvent("rejected");
  bare.presented_fingerprint = "";
  REQUIRE(store.RecordEvent(bare).has_value());
}

// Every SHA-256 column of every row (by each table's key) as hex text, whichever form the store
// is in: `hex(column)` is the expression that reads one as hex text.
std::string HashDumpSql(std::string (*hex)(const std::string&), bool sqlite) {
  std::string sql = "SELECT ";
  for (const HashTable& t : HashTables()) {
    const std::string name = t.name;
    const std::string key = name == "certificates" || name == "enrollment_events" ? "id"
                            : name == "manifest_devices"                          ? "device_id"
                                                                                  : "serial";
    std::string x = key + "::text";
    if (sqlite) x = "CAST(" + key + " AS TEXT)";
    for (const std::string& c : t.columns) x += " || ':' || coalesce(" + hex(c) + ", 'NULL')";
    if (sql.size() > 7) sql += " || ' | ' || ";
    sql += sqlite ? "(SELECT group_concat(x, ',') FROM (SELECT " + x + " AS x FROM " + name +
                        " ORDER BY " + key + "))"
                  : "(SELECT string_agg(" + x + ", ',' ORDER BY " + key + ") FROM " + name + ")";
  }
  return sql;
}

// SQLite: every other column of every row, quoted, with the rowid where the table has one, in
// key order: what the rebuild copies unchanged.
std::string SqliteOtherColumns(sqlite3* db) {
  std::string out;
  for (const HashTable& t : HashTables()) {
    const std::string name = t.name;
    std::string x = t.rowid ? "rowid" : "''";
    const std::string cols = QueryRaw(
        db, "SELECT group_concat(name, ' ') FROM pragma_table_info('" + name + "') ORDER BY cid");
    size_t at = 0;
    while (at < cols.size()) {
      size_t end = cols.find(' ', at);
      if (end == std::string::npos) end = cols.size();
      const std::string c = cols.substr(at, end - at);
      at = end + 1;
      if (std::find(t.columns.begin(), t.columns.end(), c) == t.columns.end()) {
        x += " || ':' || quote(" + c + ")";
      }
    }
    out += name + "=" + QueryRaw(db, "SELECT group_concat(x, ',') FROM (SELECT " + x +
                                         " AS x FROM " + name + " ORDER BY " +
                                         (t.rowid ? "rowid" : "serial") + ")") + "\n";
  }
  return out;
}

// SQLite: either form (typeof); a NULL presented_fingerprint reads as the '' it was.
std::string SqliteHex(const std::string& c) {
  std::string e =
      "CASE WHEN typeof(" + c + ") = 'blob' THEN lower(hex(" + c + ")) ELSE " + c + " END";
  return c == "presented_fingerprint" ? "coalesce(" + e + ", '')" : e;
}
// PostgreSQL: the text form (version 9) and the bytes form (10).
std::string PgText(const std::string& c) { return c; }
std::string PgBytes(const std::string& c) {
  return c == "presented_fingerprint" ? "coalesce(encode(" + c + ", 'hex'), '')"
                                      : "encode(" + c + ", 'hex')";
}

constexpr const char* kView =
    "SELECT group_concat(serial || fingerprint_sha256 || public_key_sha256 || "
    "auth_cert_fingerprint, ',') FROM (SELECT * FROM active_certificates ORDER BY id)";
constexpr const char* kPgView =
    "SELECT string_agg(serial || fingerprint_sha256 || public_key_sha256 || "
    "auth_cert_fingerprint, ',' ORDER BY id) FROM active_certificates";

void CheckManifestReport(Store& store) {
  ManifestReport report = store.ReportManifests("").value();
  REQUIRE(report.batches.size() == 1);
  CHECK(report.batches[0].expected == 2);
  CHECK(report.batches[0].enrolled == 1);    // device-1 by its bootstrap fingerprint
  CHECK(report.batches[0].never_seen == 1);  // device-9
  CHECK(report.unknown_attempts >= 1);       // the sample events' presented 'cc..c'
  // The lookups the enrollment makes bind bytes and find the rows.
  CHECK(store.FindInManifest(HashHex(9, 'b')).value().has_value());
  CHECK(store.FindByDevice("device-1").value().at(0).auth_cert_fingerprint == HashHex(1, 'c'));
}

}  // namespace

TEST_CASE("SQLite: a version 12 store gets 32-byte SHA-256 columns, keeps every row and works") {
  static_assert(kSchemaVersion == kSha256BytesFromVersion + 1);
  TempDir dir;
  const std::string path = dir.File("store.db");
  AuditReport before{};
  ChainBase base;
  {
    auto store = OpenOrDie(path);
    PopulateAll(*store);
    before = Verify(*store);
    base = store->AuditChainBase().value();
  }
  const std::string hashes_now = QueryRaw(OpenRaw(path).get(), HashDumpSql(SqliteHex, true));
  SqliteBackToV12(path);  // also checks the schema against a fresh version 12 file
  RawDb raw = OpenRaw(path);
  CHECK(QueryRawInt(raw.get(), "PRAGMA user_version") == kSha256BytesFromVersion);
  const std::string hashes = QueryRaw(raw.get(), HashDumpSql(SqliteHex, true));
  CHECK(hashes == hashes_now);
  const std::string others = SqliteOtherColumns(raw.get());
  CHECK(QueryRawInt(raw.get(),
                    "SELECT count(*) FROM enrollment_events WHERE "
                    "typeof(presented_fingerprint) = 'text'") > 0);
  const std::string view = QueryRaw(raw.get(), kView);
  const int64_t checkpoint_id = base.first_id + 2;
  const std::string checkpoint_hash =
      QueryRaw(raw.get(), "SELECT lower(hex(row_hash)) FROM enrollment_events WHERE id = " +
                              std::to_string(checkpoint_id));
  const int64_t no_fingerprint = QueryRawInt(
      raw.get(), "SELECT count(*) FROM enrollment_events WHERE presented_fingerprint = ''");
  REQUIRE(no_fingerprint > 0);

  auto store = OpenOrDie(path);
  CHECK(QueryRawInt(raw.get(), "PRAGMA user_version") == kSchemaVersion);
  CHECK(QueryRaw(raw.get(), HashDumpSql(SqliteHex, true)) == hashes);
  CHECK(SqliteOtherColumns(raw.get()) == others);
  CHECK(QueryRaw(raw.get(), kView) == view);
  for (const HashTable& t : HashTables()) {
    for (const std::string& c : t.columns) {
      CAPTURE(c);
      CHECK(QueryRawInt(raw.get(), "SELECT count(*) FROM " + std::string(t.name) + " WHERE " + c +
                                       " IS NOT NULL AND (typeof(" + c + ") <> 'blob' OR length(" +
                                       c + ") <> 32)") == 0);
    }
  }
  CHECK(QueryRawInt(raw.get(),
                    "SELECT count(*) FROM enrollment_events WHERE "
                    "presented_fingerprint IS NULL") == no_fingerprint);
  CHECK(store->EffectiveSettings().value().foreign_keys == 1);
  AuditReport from = store->VerifyAuditChainFrom(checkpoint_id, checkpoint_hash).value();
  CHECK_MESSAGE(from.ok, from.problem);
  CHECK(from.head_hash == before.head_hash);
  CheckManifestReport(*store);
  WorksAfterMigration(*store, before, base);
}

// What the rebuild cannot carry: an operator's index on a rebuilt table is refused, named, and the
// store left at version 12; a hash a version 12 CHECK would have refused
// (forced in) fails the migration instead of becoming NULL.
TEST_CASE("SQLite: migration 13 refuses what it would lose or change, and leaves version 12") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  {
    auto store = OpenOrDie(path);
    PopulateAll(*store);
  }
  SqliteBackToV12(path);
  RawDb raw = OpenRaw(path);
  REQUIRE(QueryRawInt(raw.get(), "PRAGMA user_version") == kSha256BytesFromVersion);
  ExecRaw(raw.get(), "CREATE INDEX ops_subject ON certificates (subject)");
  auto refused = SqliteStore::Open(path);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().detail.find("would lose index ops_subject") != std::string::npos);
  CHECK(QueryRawInt(raw.get(), "PRAGMA user_version") == kSha256BytesFromVersion);
  ExecRaw(raw.get(), "DROP INDEX ops_subject");

  const std::string serial =
      QueryRaw(raw.get(), "SELECT serial FROM certificates WHERE tbs_sha256 IS NOT NULL LIMIT 1");
  REQUIRE_FALSE(serial.empty());
  ExecRaw(raw.get(), "PRAGMA ignore_check_constraints = 1");
  ExecRaw(raw.get(), "UPDATE certificates SET tbs_sha256 = upper(tbs_sha256) WHERE serial = '" +
                         serial + "'");
  ExecRaw(raw.get(), "PRAGMA ignore_check_constraints = 0");
  auto failed = SqliteStore::Open(path);
  REQUIRE_FALSE(failed.has_value());
  CAPTURE(failed.error().detail);
  CHECK(QueryRawInt(raw.get(), "PRAGMA user_version") == kSha256BytesFromVersion);
  CHECK(QueryRawInt(raw.get(), "SELECT count(*) FROM certificates WHERE typeof(tbs_sha256) = "
                               "'text' AND serial = '" + serial + "'") == 1);
  ExecRaw(raw.get(), "UPDATE certificates SET tbs_sha256 = lower(tbs_sha256) WHERE serial = '" +
                         serial + "'");
  auto store = OpenOrDie(path);
  CHECK(QueryRawInt(raw.get(), "PRAGMA user_version") == kSchemaVersion);
  CHECK(store->EffectiveSettings().value().foreign_keys == 1);
}

TEST_CASE("PostgreSQL: a version 9 database gets 32-byte SHA-256 columns, keeps rows and works") {
  static_assert(kPgSchemaVersion == kPgSha256BytesFromVersion + 1);
  TempDir dir;
  TempDir fresh_dir;
  const std::string conninfo = PgTestDatabase::For(dir);
  AuditReport before{};
  ChainBase base;
  {
    auto store = PgBackend::Open(dir);
    PopulateAll(*store);
    before = Verify(*store);
    base = store->AuditChainBase().value();
  }
  auto conn = PgConn::Connect(conninfo);
  REQUIRE_MESSAGE(conn.has_value(), (conn ? "" : conn.error().detail));
  PgConn& db = **conn;
  const std::string hashes_now = One(db, HashDumpSql(PgBytes, false));
  PgBackToV9(db);
  {
    auto fresh = PgConn::Connect(PgTestDatabase::For(fresh_dir, /*migrate=*/false));
    REQUIRE(fresh.has_value());
    REQUIRE(PgMigrateTo(**fresh, kPgSha256BytesFromVersion).has_value());
    CHECK(One(db, kPgHashTablesSchema) == One(**fresh, kPgHashTablesSchema));
  }
  const std::string hashes = One(db, HashDumpSql(PgText, false));
  CHECK(hashes == hashes_now);
  const std::string view = One(db, kPgView);
  const int64_t checkpoint_id = base.first_id + 2;
  const std::string checkpoint_hash =
      One(db, "SELECT encode(row_hash, 'hex') FROM enrollment_events WHERE id = " +
                  std::to_string(checkpoint_id));
  const std::string no_fingerprint =
      One(db, "SELECT count(*) FROM enrollment_events WHERE presented_fingerprint = ''");
  REQUIRE(no_fingerprint != "0");

  REQUIRE(PgStore::Migrate(conninfo).has_value());
  CHECK(One(db, "SELECT version FROM schema_version") == std::to_string(kPgSchemaVersion));
  CHECK(One(db, HashDumpSql(PgBytes, false)) == hashes);
  CHECK(One(db, kPgView) == view);
  CHECK(One(db,
            "SELECT count(*) FROM information_schema.columns WHERE table_name IN "
            "('certificates', 'issuance_intents', 'enroll_tombstones', 'manifest_devices', "
            "'enrollment_events') AND data_type = 'bytea' AND column_name NOT IN ('der', "
            "'tbs', 'row_hash')") == "10");
  CHECK(One(db, "SELECT count(*) FROM enrollment_events WHERE presented_fingerprint IS NULL") ==
        no_fingerprint);
  auto store = PgBackend::Open(dir);
  AuditReport from = store->VerifyAuditChainFrom(checkpoint_id, checkpoint_hash).value();
  CHECK_MESSAGE(from.ok, from.problem);
  CHECK(from.head_hash == before.head_hash);
  CheckManifestReport(*store);
  WorksAfterMigration(*store, before, base);
}

// A presented_fingerprint that is not 64 lowercase hex characters cannot be stored as bytes: the
// append is refused (it would otherwise be stored as NULL while the chain hashed the text).
TEST_CASE_TEMPLATE("an event whose presented fingerprint is not SHA-256 hex is refused", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  EventRecord event = SampleEvent("rejected");
  event.presented_fingerprint = std::string(64, 'C');
  CHECK_FALSE(store->RecordEvent(event).has_value());
  event.presented_fingerprint = std::string(64, 'c');
  REQUIRE(store->RecordEvent(event).has_value());
  AuditReport report = Verify(*store);
  CHECK_MESSAGE(report.ok, report.problem);
  CHECK(report.rows_checked == 1);
}

}  // namespace db::testing
