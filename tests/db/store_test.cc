// store_test.cc — SQLite-only: tests db::SqliteStore's file (schema, PRAGMAs, mode 0600, reopening,
// a newer or damaged file, a trigger or a lock refusing a write), checking through an independent
// sqlite3 connection what operators and the daemon depend on. The backend-neutral cases of the
// store are in records_test.cc.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "db/sqlite_store.h"
#include "db/store_check.h"
#include "tests/db/sqlite_fixture.h"

namespace db::testing {
namespace {

TEST_CASE("a new database has the current schema and durable settings in force") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);

  auto settings = store->EffectiveSettings();
  REQUIRE(settings.has_value());
  CHECK(settings->journal_mode == "wal");
  CHECK(settings->synchronous == 2);
  CHECK(settings->foreign_keys == 1);
  CHECK(settings->busy_timeout_ms == 5000);
  CHECK(settings->user_version == kSchemaVersion);

  // What is stored in the file, seen by another connection (operators use the sqlite3 CLI).
  RawDb raw = OpenRaw(path);
  CHECK(QueryRaw(raw.get(), "PRAGMA journal_mode") == "wal");
  CHECK(QueryRawInt(raw.get(), "PRAGMA user_version") == kSchemaVersion);
  CHECK(QueryRawInt(raw.get(), "PRAGMA page_size") == 8192);  // nine certificate rows a page
  CHECK(QueryRaw(raw.get(),
                 "SELECT group_concat(name, ',') FROM pragma_table_info('certificates')") ==
        "id,serial,device_id,subject,san,not_before,not_after,der,fingerprint_sha256,"
        "public_key_sha256,auth_cert_issuer,auth_cert_serial,auth_cert_fingerprint,kind,peer,"
        "issued_at,revoked_at,revocation_reason,profile,tbs_sha256,ca_gen");
  CHECK(QueryRaw(raw.get(),
                 "SELECT group_concat(name, ',') FROM pragma_table_info('enrollment_events')") ==
        "id,time,peer,presented_fingerprint,presented_subject,device_id,endpoint,outcome,"
        "http_status,reason,serial,row_hash");
  CHECK(QueryRaw(raw.get(),
                 "SELECT group_concat(name, ',') FROM pragma_table_info('bootstrap_denylist')") ==
        "id,fingerprint,issuer,serial,reason,added_at");
  // dropped_before: version 9 (db/schema_tidy.cc), the bound tidy removes revoked rows below.
  CHECK(QueryRaw(raw.get(), "SELECT group_concat(name, ',') FROM pragma_table_info('crl_state')") ==
        "id,number,dropped_before");
  CHECK(QueryRawInt(raw.get(),
                    "SELECT count(*) FROM sqlite_schema WHERE type = 'view' AND "
                    "name = 'active_certificates'") == 1);
  CHECK(QueryRaw(raw.get(),
                 "SELECT group_concat(name, ',') FROM pragma_table_info('issuance_intents')") ==
        "serial,device_id,kind,public_key_sha256,auth_cert_fingerprint,auth_cert_issuer,"
        "auth_cert_serial,tbs,not_after,peer,created_at,status,revoked_at,revocation_reason,"
        "profile,tbs_sha256");
  CHECK(QueryRaw(raw.get(),
                 "SELECT group_concat(name, ',') FROM pragma_table_info('device_blocks')") ==
        "id,device_id,reason,blocked_at,lifted_at,lift_reason");
  // 7 from version 1; version 2 rebuilt the 4 on enrollment_events and added 2 partial indexes
  // on certificates and 2 on bootstrap_denylist; version 3 added 3 on issuance_intents and 2
  // partial ones (pending, revoked); version 4 the unique partial one on device_blocks; version 5
  // dropped 3 of enrollment_events' (and rebuilt issuance_intents' 5); version 6 made
  // enrollment_events_time partial and added enrollment_events_server_key (partial); version 7 (rebootstrap_grants, db/schema_grants.cc) added
  // rebootstrap_grants_device_id; version 8 (db/schema_manifest.cc) manifest_devices_batch_id and
  // a partial one on enrollment_events (presented_fingerprint); version 9 (CA generations,
  // db/schema_rollover.cc) the 3 partial unique ones on ca_generations (one active, pending,
  // previous); version 10 (db/schema_tidy.cc) enroll_tombstones_auth_cert_fingerprint and
  // enroll_tombstones_device_id.
  CHECK(QueryRawInt(raw.get(),
                    "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND "
                    "name NOT LIKE 'sqlite_autoindex%'") == 23);
}

TEST_CASE("the database file and its WAL are created with mode 0600") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  Issue(*store, SampleCertificate(SerialHex(1)));

  struct stat db_stat {};
  REQUIRE(stat(path.c_str(), &db_stat) == 0);
  CHECK((db_stat.st_mode & 07777) == 0600);
  struct stat wal_stat {};
  REQUIRE(stat((path + "-wal").c_str(), &wal_stat) == 0);
  CHECK((wal_stat.st_mode & 07777) == 0600);
}

TEST_CASE("reopening keeps the data and does not run migrations again") {
  TempDir dir;
  std::string path = dir.File("store.db");
  CertificateRecord cert = SampleCertificate(SerialHex(7));
  Issue(*OpenOrDie(path), cert);

  // Were migration 1 to run again, this index would come back (or CREATE TABLE would fail).
  ExecRaw(OpenRaw(path).get(), "DROP INDEX certificates_device_id");

  auto store = OpenOrDie(path);
  auto found = store->FindBySerial(cert.serial_hex);
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  CheckSameCertificate(**found, cert);
  CHECK(store->CountCertificates().value_or(-1) == 1);
  RawDb raw = OpenRaw(path);
  CHECK(QueryRawInt(raw.get(),
                    "SELECT count(*) FROM sqlite_schema WHERE name = "
                    "'certificates_device_id'") == 0);
  CHECK(QueryRawInt(raw.get(), "PRAGMA user_version") == kSchemaVersion);
}

TEST_CASE("a file from a newer schema is refused with kSchema and left untouched") {
  TempDir dir;
  std::string path = dir.File("store.db");
  ExecRaw(OpenRaw(path, /*create=*/true).get(),
          "CREATE TABLE future (x); PRAGMA user_version = " + std::to_string(kSchemaVersion + 1));

  auto store = SqliteStore::Open(path);
  REQUIRE_FALSE(store.has_value());
  CHECK(store.error().code == Code::kSchema);
  CHECK(QueryRaw(OpenRaw(path).get(), "PRAGMA journal_mode") == "delete");
}

TEST_CASE("a file that is not a database is kCorrupt") {
  TempDir dir;
  std::string path = dir.File("store.db");
  std::ofstream(path) << std::string(8192, 'x');

  auto store = SqliteStore::Open(path);
  REQUIRE_FALSE(store.has_value());
  CHECK(store.error().code == Code::kCorrupt);
}

// An open no longer reads every page (its cost grew with the file): the damage is found by the
// whole-file check (db/store_check.h) and by the first statement that reads the page
// (store_check_test.cc).
TEST_CASE("a database with damaged pages opens, and fails the whole-file check with kCorrupt") {
  TempDir dir;
  std::string path = dir.File("store.db");
  {
    auto store = OpenOrDie(path);
    for (int i = 0; i < 50; ++i) Issue(*store, SampleCertificate(SerialHex(i)));
  }  // closing checkpoints the WAL into the main file
  RawDb raw = OpenRaw(path);
  int64_t page_size = QueryRawInt(raw.get(), "PRAGMA page_size");
  int64_t root = QueryRawInt(raw.get(),
                             "SELECT rootpage FROM sqlite_schema "
                             "WHERE name = 'certificates_device_id'");
  raw.reset();
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp((root - 1) * page_size);
    std::string junk(static_cast<size_t>(page_size), '\x55');
    file.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }

  CHECK(SqliteStore::Open(path).has_value());
  SqliteFileCheck check;
  auto checked = check.Run(path);
  REQUIRE_FALSE(checked.has_value());
  CHECK(checked.error().code == Code::kCorrupt);
}

TEST_CASE("a write refused by a trigger leaves neither the certificate nor its event") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  std::string table;
  SUBCASE("on the certificate insert") { table = "certificates"; }
  SUBCASE("on the event insert, after the certificate row went in") { table = "enrollment_events"; }
  ExecRaw(OpenRaw(path).get(), "CREATE TRIGGER t BEFORE INSERT ON " + table +
                                   " BEGIN SELECT RAISE(ABORT, 'injected'); END;");

  // (On enrollment_events the trigger already refuses Reserve's "intent" state event.)
  const CertificateRecord cert = SampleCertificate(SerialHex(9));
  auto recorded = ReserveAndComplete(*store, cert, SampleEvent("issued", SerialHex(9)), AnyQuota());
  REQUIRE_FALSE(recorded.has_value());
  CHECK(recorded.error().code == Code::kConstraint);
  CHECK(recorded.error().detail.find("injected") != std::string::npos);
  CHECK(RowCount(path, "certificates") == 0);
  CHECK(RowCount(path, "enrollment_events WHERE endpoint <> 'state'") == 0);

  // The store is not left inside a transaction: once the fault is gone, writes work again.
  ExecRaw(OpenRaw(path).get(), "DROP TRIGGER t");
  if (store->PendingIntents().value().empty()) {
    Issue(*store, cert);
  } else {
    REQUIRE(store->Complete(cert, SampleEvent("issued", SerialHex(9))).has_value());
  }
  CHECK(RowCount(path, "certificates") == 1);
}

TEST_CASE("a writer locked out beyond busy_timeout gets kBusy and writes nothing") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  RawDb holder = OpenRaw(path);
  ExecRaw(holder.get(), "BEGIN IMMEDIATE");  // holds the write lock for the whole timeout

  auto recorded = ReserveAndComplete(*store, SampleCertificate(SerialHex(3)),
                                     SampleEvent("issued", SerialHex(3)), AnyQuota());
  REQUIRE_FALSE(recorded.has_value());
  CHECK(recorded.error().code == Code::kBusy);
  ExecRaw(holder.get(), "ROLLBACK");
  CHECK(store->CountCertificates().value_or(-1) == 0);
  CHECK(RowCount(path, "issuance_intents") == 0);
}

TEST_CASE("SQLite: DER is a BLOB byte for byte, a hostile device id a value, no serial is NULL") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  CertificateRecord cert = SampleCertificate(SerialHex(42), "'; DROP TABLE certificates; --\"é");
  cert.der.clear();
  for (int b = 0; b < 256; ++b) cert.der.push_back(static_cast<unsigned char>(b));
  Issue(*store, cert);
  REQUIRE(store->RecordEvent(SampleEvent("rejected")).has_value());
  std::string want_hex;
  for (unsigned char b : cert.der) {
    want_hex += "0123456789ABCDEF"[b >> 4];
    want_hex += "0123456789ABCDEF"[b & 15];
  }
  RawDb raw = OpenRaw(path);
  std::string where = " FROM certificates WHERE serial = '" + cert.serial_hex + "'";
  CHECK(QueryRaw(raw.get(), "SELECT typeof(der)" + where) == "blob");
  CHECK(QueryRaw(raw.get(), "SELECT hex(der)" + where) == want_hex);
  CHECK(QueryRaw(raw.get(), "SELECT device_id" + where) == cert.device_id);
  // The intent's state event and "rejected" name no certificate: NULL, not "".
  CHECK(QueryRawInt(raw.get(), "SELECT count(*) FROM enrollment_events WHERE serial IS NULL") == 2);
}

}  // namespace
}  // namespace db::testing
