// chain_store_fixture.h — a store with every kind of row the audit chain's migrations must keep
// (enrollments, a revocation, a block, CA generations, a chain tidy truncated, a removed
// certificate, a pending intent), what a migrated store must still do, and the store put back
// into the form of SQLite 11 / PostgreSQL 8 (prev_hash stored, through v12_store_fixture.h).
// Shared by chain_bytes_migration_test.cc, chain_link_migration_test.cc and
// sha256_bytes_migration_test.cc.
#pragma once

#include <doctest/doctest.h>

#include <span>
#include <string>
#include <vector>

#include "ca/encoding.h"
#include "db/store.h"
#include "db/pg_conn.h"
#include "tests/db/admin_writes.h"
#include "tests/db/sqlite_fixture.h"
#include "tests/db/store_fixture.h"
#include "tests/db/v12_store_fixture.h"

namespace db::testing {

inline CertificateRecord Cert(int n, const std::string& issued_at, const std::string& not_after) {
  CertificateRecord cert = EnrollCertificate(n, n, "device-" + std::to_string(n), HashHex(n, 'c'));
  cert.issued_at = issued_at;
  cert.not_after = not_after;
  return cert;
}

inline void IssueAt(Store& store, const CertificateRecord& cert) {
  EventRecord issued = SampleEvent("issued", cert.serial_hex);
  issued.time = cert.issued_at;
  auto done = ReserveAndComplete(store, cert, issued, AnyQuota());
  REQUIRE_MESSAGE(done.has_value(), (done ? "" : done.error().detail));
  REQUIRE(done->decision == Decision::kReserved);
}

inline CaGeneration Generation(int64_t gen, const std::string& state) {
  CaGeneration g{.gen = gen, .state = state};
  g.cert_der = {0x30, 0x03, 0x02, 0x01, static_cast<unsigned char>(gen)};
  g.cert_sha256 = ca::Sha256Hex(std::span(g.cert_der.data(), g.cert_der.size()));
  if (gen > 1) {
    g.new_with_old_der = {0x30, 0x01, static_cast<unsigned char>(gen)};
    g.old_with_new_der = {0x30, 0x02, static_cast<unsigned char>(gen)};
  }
  g.key_location = gen == 1 ? "ca.key" : "ca-gen2/ca.key";
  g.created_at = "2020-01-05T00:00:00Z";
  if (state == "active") g.activated_at = g.created_at;
  return g;
}

inline AuditReport Verify(Store& store) {
  auto report = store.VerifyAuditChain();
  REQUIRE_MESSAGE(report.has_value(), (report ? "" : report.error().detail));
  return *report;
}

inline const TidyBounds kTidy{.expired_before = "2026-01-01T00:00:00Z",
                       .revoked_before = {},
                       .tidied_at = "2026-12-07T00:00:00Z"};

// The intent Populate leaves pending (device-6).
inline Intent PendingIntent() { return EnrollIntent(6, 6, "device-6", HashHex(6, 'c')); }

// 2020: certificates 1 (active), 2 (revoked), a block, CA generation 2 activated; the chain cut
// below 2021 (carry, truncation: audit_chain_base); 2025: certificates 3 and 5, expired by 2026,
// 3 removed by tidy (its "issued" event stays, naming a certificate no longer there, as tidy
// leaves it); 2026: certificate 4 and a pending intent (PendingIntent).
inline void Populate(Store& store) {
  IssueAt(store, Cert(1, "2020-01-02T00:00:00Z", "2099-01-01T00:00:00Z"));
  IssueAt(store, Cert(2, "2020-01-02T00:00:00Z", "2099-01-01T00:00:00Z"));
  REQUIRE(store.RevokeSerial(SerialHex(2), 1, "2020-01-03T00:00:00Z").value() == 1);
  REQUIRE(BlockAsAdmin(store, "device-z", "lost", "2020-01-04T00:00:00Z").value());
  REQUIRE(store.AddCaGeneration(Generation(1, "active"), Generation(2, "pending")).has_value());
  int64_t gen = 0;
  REQUIRE(store.ActivateCaGeneration("2020-01-06T00:00:00Z", &gen).has_value());
  REQUIRE(store.RecordEvent(SampleEvent("rejected")).has_value());  // 2026
  const int64_t cut = store.ChainCut("2021-01-01T00:00:00Z", Verify(store).rows_checked).value();
  REQUIRE(cut > 1);
  REQUIRE(store.CarryLiveState(cut, 100).has_value());
  while (store.TruncateChain(cut, "checkpoint-text", 100).value() > 0) {
  }
  REQUIRE(store.AuditChainBase().value().first_id == cut);
  IssueAt(store, Cert(3, "2025-01-02T00:00:00Z", "2025-06-01T00:00:00Z"));
  IssueAt(store, Cert(5, "2025-01-02T00:00:00Z", "2025-06-01T00:00:00Z"));
  REQUIRE(store.RemoveCertificates({SerialHex(3)}, kTidy).value() == 1);
  IssueAt(store, Cert(4, "2026-01-02T00:00:00Z", "2099-01-01T00:00:00Z"));
  REQUIRE(ReserveOrDie(store, PendingIntent(), 1 << 30).decision == Decision::kReserved);
  AuditReport report = Verify(store);
  REQUIRE_MESSAGE(report.ok, report.problem);
}

// What a migrated store must still be and do; `before` is the report taken before migrating.
inline void WorksAfterMigration(Store& store, const AuditReport& before, const ChainBase& base_before) {
  AuditReport after = Verify(store);
  CHECK_MESSAGE(after.ok, after.problem);
  CHECK(after.rows_checked == before.rows_checked);
  CHECK(after.head_hash == before.head_hash);
  const ChainBase base = store.AuditChainBase().value();
  CHECK(base.first_id == base_before.first_id);
  CHECK(base.prev_hash == base_before.prev_hash);
  // The rows an archive would hold read back as the hex the chain hashed (verify-archive's walk).
  std::vector<ChainRow> rows = store.ChainRows(base.first_id, base.first_id + 1000, 1000).value();
  CHECK(static_cast<int64_t>(rows.size()) == after.rows_checked);
  AuditReport archived = VerifyArchivedChain(rows, base);
  CHECK_MESSAGE(archived.ok, archived.problem);
  CHECK(archived.head_hash == after.head_hash);
  // list, revoke, tidy.
  CHECK(store.FindByDevice("device-1").value().size() == 1);
  CHECK(store
            .ListCertificates(ListFilter{
                .device_id = {}, .revoked_only = true, .expiring_before_iso = {}, .limit = 10})
            .value()
            .size() == 1);
  CHECK(store.RevokeSerial(SerialHex(4), 1, "2026-02-01T00:00:00Z").value() == 1);
  CHECK(store.RemoveCertificates({SerialHex(5)}, kTidy).value() == 1);
  // The pending intent is still there and completes.
  REQUIRE(store.PendingIntents().value().size() == 1);
  CompleteOrDie(store, PendingIntent());
  CHECK(store.FindByDevice("device-6").value().size() == 1);
  AuditReport last = Verify(store);
  CHECK_MESSAGE(last.ok, last.problem);
  CHECK(last.rows_checked >= before.rows_checked + 2);  // the revocation, the tombstone
}

// SQLite: enrollment_events as version 11 defined it (db/schema_chain_bytes.cc), prev_hash the
// previous row's row_hash, the first row's the chain base's ('%BASE%': its 64 hex characters).
inline constexpr const char* kSqliteBackToV11 = R"sql(
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE enrollment_events_v11 (
  id INTEGER PRIMARY KEY,
  time TEXT NOT NULL CHECK (time GLOB
    '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z'),
  peer TEXT NOT NULL,
  presented_fingerprint TEXT NOT NULL
    CHECK (presented_fingerprint = '' OR (length(presented_fingerprint) = 64 AND
      presented_fingerprint <> '' AND presented_fingerprint NOT GLOB '*[^0-9a-f]*')),
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
INSERT INTO enrollment_events_v11 SELECT id, time, peer, presented_fingerprint,
  presented_subject, device_id, endpoint, outcome, http_status, reason, serial,
  coalesce(lag(row_hash) OVER (ORDER BY id), X'%BASE%'), row_hash
  FROM enrollment_events ORDER BY id;
DROP TABLE enrollment_events;
ALTER TABLE enrollment_events_v11 RENAME TO enrollment_events;
CREATE INDEX enrollment_events_time ON enrollment_events (time) WHERE outcome <> 'issued';
CREATE INDEX enrollment_events_server_key ON enrollment_events (time)
  WHERE reason = 'issued_server_key';
CREATE INDEX enrollment_events_presented_fingerprint ON enrollment_events (presented_fingerprint)
  WHERE presented_fingerprint <> '';
PRAGMA user_version = 11;
COMMIT;
PRAGMA foreign_keys = ON;
)sql";

// Puts a store written by this version back into version 11's form (through version 12's).
inline void SqliteBackToV11(const std::string& path, const ChainBase& base) {
  SqliteBackToV12(path);
  std::string sql = kSqliteBackToV11;
  sql.replace(sql.find("%BASE%"), 6, base.prev_hash);
  ExecRaw(OpenRaw(path).get(), sql);
}

// PostgreSQL: version 8's prev_hash (bytea, NOT NULL, CHECK length 32) added back, filled as above
// (ADD COLUMN puts it last: compare columns by name).
inline void PgBackToV8(PgConn& db, const ChainBase& base) {
  PgBackToV9(db);  // version 9's form first (the SHA-256 columns as hex)
  for (const std::string& sql :
       {std::string("BEGIN"), std::string("ALTER TABLE enrollment_events ADD COLUMN prev_hash bytea"),
        "UPDATE enrollment_events e SET prev_hash = coalesce(l.p, decode('" + base.prev_hash +
            "', 'hex')) FROM (SELECT id, lag(row_hash) OVER (ORDER BY id) AS p FROM "
            "enrollment_events) l WHERE l.id = e.id",
        std::string("ALTER TABLE enrollment_events ALTER COLUMN prev_hash SET NOT NULL, "
                    "ADD CONSTRAINT enrollment_events_prev_hash_check CHECK "
                    "(length(prev_hash) = 32)"),
        std::string("UPDATE schema_version SET version = 8"), std::string("COMMIT")}) {
    auto ran = db.Run(sql.c_str());
    REQUIRE_MESSAGE(ran.has_value(), (ran ? "" : ran.error().detail));
  }
}

}  // namespace db::testing
