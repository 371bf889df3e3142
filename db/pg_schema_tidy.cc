// pg_schema_tidy.cc — PostgreSQL: the tables retention needs, the same columns and invariants as
// SQLite's (db/schema_tidy.cc says what they are); the events' foreign key becomes a trigger.
#include <array>

#include "db/pg_conn.h"
#include "db/schema_tidy.h"

namespace db {
namespace {

// clang-format off
#define PG_TIME "text COLLATE \"C\""
#define PG_ISO8601(column) "(" column " ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$')"
#define PG_SHA256(column) "(" column " ~ '^[0-9a-f]{64}$')"
// enrollment_events.serial REFERENCES certificates: PostgreSQL checks it for every certificate
// deleted, with a scan of the whole chain (its index went in version 2). Replaced by a trigger
// that checks only what the key checked on insert (an event names an existing certificate: one
// probe of certificates.serial's unique index, as the key made): an "issued" event names a
// certificate that was issued, which tidy may since have removed (its "tidied" or "tombstoned"
// state event says so); SQLite keeps its key and tidy's connection switches it off.
constexpr std::array kMigrationAddTidy = {
R"sql(CREATE TABLE enroll_tombstones (
  serial text PRIMARY KEY CHECK (serial <> ''),
  device_id text NOT NULL,
  auth_cert_fingerprint text NOT NULL CHECK )sql" PG_SHA256("auth_cert_fingerprint") R"sql(,
  not_after )sql" PG_TIME R"sql( NOT NULL CHECK )sql" PG_ISO8601("not_after") R"sql(
))sql",
"CREATE INDEX enroll_tombstones_auth_cert_fingerprint ON enroll_tombstones (auth_cert_fingerprint)",
"CREATE INDEX enroll_tombstones_device_id ON enroll_tombstones (device_id)",
R"sql(CREATE TABLE audit_chain_base (
  id integer PRIMARY KEY CHECK (id = 1),
  first_id bigint NOT NULL CHECK (first_id > 1),
  prev_hash text NOT NULL CHECK )sql" PG_SHA256("prev_hash") R"sql(,
  checkpoint text NOT NULL
))sql",
"ALTER TABLE crl_state ADD COLUMN dropped_before " PG_TIME " NULL CHECK (dropped_before IS NULL "
"OR " PG_ISO8601("dropped_before") ")",
"ALTER TABLE enrollment_events DROP CONSTRAINT IF EXISTS enrollment_events_serial_fkey",
R"sql(CREATE FUNCTION enrollment_events_serial_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.serial IS NOT NULL AND NOT EXISTS (SELECT 1 FROM certificates WHERE serial = NEW.serial)
  THEN
    RAISE foreign_key_violation USING MESSAGE = 'enrollment_events.serial names no certificate';
  END IF;
  RETURN NEW;
END $$)sql",
"CREATE TRIGGER enrollment_events_serial_exists BEFORE INSERT OR UPDATE OF serial ON "
"enrollment_events FOR EACH ROW EXECUTE FUNCTION enrollment_events_serial_exists()",
};
#undef PG_SHA256
#undef PG_ISO8601
#undef PG_TIME
// clang-format on

}  // namespace

Result<void> PgMigrateAddTidy(PgConn& db) {
  for (const char* sql : kMigrationAddTidy) {
    if (auto r = db.Run(sql); !r) return std::unexpected(r.error());
  }
  return {};
}

}  // namespace db
