// pg_store_test.cc — PostgreSQL-only: the schema version kept in the database (Open refuses an
// older or newer one, PgStore::Migrate creates and is idempotent), the README's tables and view
// answering in SQL, and values bound rather than spliced. Runs on the fixture's cluster.
#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <memory>
#include <string>

#include "db/pg_schema.h"
#include "db/pg_store.h"
#include "tests/db/pg_fixture.h"
#include "tests/db/store_fixture.h"

namespace db::testing {
namespace {

// An independent libpq connection, to look at (or tamper with) the database behind the store.
class RawPg {
 public:
  explicit RawPg(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str()), PQfinish) {
    REQUIRE_MESSAGE(PQstatus(conn_.get()) == CONNECTION_OK, PQerrorMessage(conn_.get()));
  }
  // The first column of the first row as text ("" for NULL or no row). SQL is the test's own.
  std::string Query(const std::string& sql) {
    std::unique_ptr<PGresult, void (*)(PGresult*)> result(
        PQexecParams(conn_.get(), sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0), PQclear);
    auto status = PQresultStatus(result.get());
    REQUIRE_MESSAGE((status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK),
                    sql << ": " << PQerrorMessage(conn_.get()));
    if (status != PGRES_TUPLES_OK || PQntuples(result.get()) == 0) return "";
    return PQgetvalue(result.get(), 0, 0);
  }

 private:
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn_;
};

std::unique_ptr<PgStore> OpenPgOrDie(const std::string& conninfo) {
  auto store = PgStore::Open(conninfo);
  REQUIRE_MESSAGE(store.has_value(), (store ? "" : store.error().detail));
  return std::move(*store);
}

TEST_CASE("PostgreSQL: an empty database is refused until migrate, and migrate is idempotent") {
  TempDir dir;
  const std::string conninfo = PgTestDatabase::For(dir, /*migrate=*/false);
  auto refused = PgStore::Open(conninfo);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == Code::kSchema);
  CHECK(refused.error().detail.find("schema version 0") != std::string::npos);
  CHECK(refused.error().detail.find("provisiond migrate") != std::string::npos);

  REQUIRE(PgStore::Migrate(conninfo).has_value());
  {
    auto store = OpenPgOrDie(conninfo);
    Issue(*store, SampleCertificate(SerialHex(1)));
    REQUIRE(store->NextCrlNumber().value() == 1);
  }
  // Again: nothing re-created, nothing lost, the CRL number and the chain kept.
  REQUIRE(PgStore::Migrate(conninfo).has_value());
  auto store = OpenPgOrDie(conninfo);
  CHECK(store->CountCertificates().value() == 1);
  CHECK(store->NextCrlNumber().value() == 2);
  CHECK(store->VerifyAuditChain().value().ok);
  RawPg raw(conninfo);
  CHECK(raw.Query("SELECT version FROM schema_version") == std::to_string(kPgSchemaVersion));
  CHECK(raw.Query("SELECT count(*) FROM audit_head") == "1");
}

TEST_CASE("PostgreSQL: a database at a newer or older schema version is refused, untouched") {
  TempDir dir;
  const std::string conninfo = PgTestDatabase::For(dir);
  RawPg raw(conninfo);
  raw.Query("UPDATE schema_version SET version = " + std::to_string(kPgSchemaVersion + 1));
  auto newer = PgStore::Open(conninfo);
  REQUIRE_FALSE(newer.has_value());
  CHECK(newer.error().code == Code::kSchema);
  const std::string versions = "schema version " + std::to_string(kPgSchemaVersion + 1) +
                               ", this program needs " + std::to_string(kPgSchemaVersion);
  CHECK(newer.error().detail.find(versions) != std::string::npos);
  auto migrate_newer = PgStore::Migrate(conninfo);
  REQUIRE_FALSE(migrate_newer.has_value());
  CHECK(migrate_newer.error().code == Code::kSchema);
  CHECK(raw.Query("SELECT version FROM schema_version") == std::to_string(kPgSchemaVersion + 1));

  raw.Query("UPDATE schema_version SET version = 0");
  auto older = PgStore::Open(conninfo);
  REQUIRE_FALSE(older.has_value());
  CHECK(older.error().code == Code::kSchema);
  CHECK(older.error().detail.find("provisiond migrate") != std::string::npos);
}

TEST_CASE("PostgreSQL: the README's tables and view answer in SQL") {
  TempDir dir;
  const std::string conninfo = PgTestDatabase::For(dir);
  auto store = OpenPgOrDie(conninfo);
  CertificateRecord live = SampleCertificate(SerialHex(1), "device-live");
  live.not_after = "2999-01-01T00:00:00Z";
  Issue(*store, live);
  CertificateRecord expired = SampleCertificate(SerialHex(2), "device-expired");
  expired.not_after = "2001-01-01T00:00:00Z";
  Issue(*store, expired);
  RawPg raw(conninfo);
  CHECK(raw.Query("SELECT count(*) FROM certificates") == "2");
  CHECK(raw.Query("SELECT device_id FROM active_certificates WHERE serial = '" + SerialHex(1) +
                  "'") == "device-live");
  CHECK(raw.Query("SELECT count(*) FROM active_certificates") == "1");
  CHECK(raw.Query("SELECT count(*) FROM certificates WHERE tbs_sha256 IS NOT NULL") == "2");
  CHECK(raw.Query("SELECT count(*) FROM issuance_intents") == "0");
  CHECK(raw.Query("SELECT count(*) FROM enrollment_events WHERE outcome = 'issued'") == "2");
  CHECK(raw.Query("SELECT last_id FROM audit_head") ==
        raw.Query("SELECT max(id) FROM enrollment_events"));
}

TEST_CASE("PostgreSQL: DER is bytea byte for byte, a hostile device id a value, no serial is NULL") {
  TempDir dir;
  const std::string conninfo = PgTestDatabase::For(dir);
  auto store = OpenPgOrDie(conninfo);
  CertificateRecord cert = SampleCertificate(SerialHex(42), "'; DROP TABLE certificates; --\"é");
  cert.der.clear();
  for (int b = 0; b < 256; ++b) cert.der.push_back(static_cast<unsigned char>(b));
  Issue(*store, cert);
  REQUIRE(store->RecordEvent(SampleEvent("rejected")).has_value());
  std::string want_hex = "\\x";
  for (unsigned char b : cert.der) {
    want_hex += "0123456789abcdef"[b >> 4];
    want_hex += "0123456789abcdef"[b & 15];
  }
  RawPg raw(conninfo);
  std::string where = " FROM certificates WHERE serial = '" + cert.serial_hex + "'";
  CHECK(raw.Query("SELECT der" + where) == want_hex);
  CHECK(raw.Query("SELECT device_id" + where) == cert.device_id);
  CHECK(store->FindBySerial(cert.serial_hex).value()->der == cert.der);
  CHECK(store->FindByDevice(cert.device_id).value().size() == 1);
  // The intent's state event and "rejected" name no certificate: NULL, not "".
  CHECK(raw.Query("SELECT count(*) FROM enrollment_events WHERE serial IS NULL") == "2");
}

TEST_CASE("PostgreSQL: a store whose session was terminated reconnects for its next call") {
  TempDir dir;
  const std::string conninfo = PgTestDatabase::For(dir);
  auto store = OpenPgOrDie(conninfo);
  Issue(*store, SampleCertificate(SerialHex(1)));
  RawPg raw(conninfo);
  raw.Query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  // The first call may be the one that finds the session gone (kIo, nothing written) ...
  auto first = store->CountCertificates();
  if (!first) CHECK(first.error().code == Code::kIo);
  // ... the next one runs on a new session.
  auto count = store->CountCertificates();
  REQUIRE_MESSAGE(count.has_value(), (count ? "" : count.error().detail));
  CHECK(*count == 1);
  Issue(*store, SampleCertificate(SerialHex(2)));
  CHECK(store->VerifyAuditChain().value().ok);
}

TEST_CASE("PostgreSQL: a write waiting on another session's write lock gives up with kBusy") {
  TempDir dir;
  const std::string conninfo = PgTestDatabase::For(dir);
  auto store = OpenPgOrDie(conninfo);
  RawPg other(conninfo);  // another replica, in the middle of a write transaction
  other.Query("BEGIN");
  other.Query("SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE");
  auto recorded = store->RecordEvent(SampleEvent("rejected"));
  REQUIRE_FALSE(recorded.has_value());
  CHECK(recorded.error().code == Code::kBusy);
  other.Query("ROLLBACK");
  CHECK(EventCount(*store) == 0);
  REQUIRE(store->RecordEvent(SampleEvent("rejected")).has_value());
  CHECK(EventCount(*store) == 1);
}

}  // namespace
}  // namespace db::testing
