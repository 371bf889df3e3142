// query_plan.h — for the index tests (query_plan_test.cc): a workload that makes the store run
// every statement the daemon and the admin commands use, the README's queries, and which reads
// are whole-table by design.
#pragma once

#include <doctest/doctest.h>

#include <span>
#include <string>
#include <string_view>

#include "ca/encoding.h"
#include "db/store.h"
#include "tests/db/admin_writes.h"
#include "tests/db/store_fixture.h"

namespace db::testing {

// A re-bootstrap grant (db/sql_rebootstrap.cc): granted, a second open one refused, spent by a
// new key with revoke_previous (Complete revokes the old certificate), then refused as spent.
inline void ExerciseGrants(Store& store, const std::string& at) {
  const std::string bootstrap = HashHex(8, 'c');
  Issue(store, EnrollCertificate(8, 8, "device-g", bootstrap));
  RebootstrapGrant grant{.device_id = "device-g", .reason = "reset", .granted_at = at,
                         .expires_at = "2099-01-01T00:00:00Z", .revoke_previous = true};
  CHECK(GrantAsAdmin(store, grant).value().has_value());
  CHECK_FALSE(GrantAsAdmin(store, grant).value().has_value());
  Intent reset = EnrollIntent(9, 9, "device-g", bootstrap);
  CHECK(ReserveOrDie(store, reset).decision == Decision::kReserved);
  CompleteOrDie(store, reset);
  CHECK(ReserveOrDie(store, EnrollIntent(10, 10, "device-g", bootstrap)).decision ==
        Decision::kRebootstrapGrantSpent);
  CHECK(store.ListGrants().value().size() == 1);
}

// Factory manifests: an import, the same again (unchanged), a conflicting one (the same batch with
// other rows, and a new batch naming listed devices), the enrollment's lookup, both reports.
inline void ExerciseManifests(Store& store) {
  const std::string at = "2026-09-01T00:00:00Z";
  ManifestImport batch{.batch = "line-a",
                       .file_sha256 = HashHex(1, 'f'),
                       .rows = {{"device-a", HashHex(1, 'c'), 2}, {"device-m", HashHex(8, 'c'), 3}},
                       .imported_at = at};
  CHECK(store.ImportManifest(batch).value().status == ManifestImportStatus::kImported);
  CHECK(store.ImportManifest(batch).value().status == ManifestImportStatus::kUnchanged);
  ManifestImport other = batch;
  other.rows.pop_back();
  CHECK(store.ImportManifest(other).value().status == ManifestImportStatus::kConflict);
  other.batch = "line-b";
  CHECK(store.ImportManifest(other).value().status == ManifestImportStatus::kConflict);
  CHECK(store.FindInManifest(HashHex(1, 'c')).value().has_value());
  CHECK(store.ReportManifests("").value().batches.size() == 1);
  CHECK(store.ReportManifests("line-a").value().batches.size() == 1);
}

// CA generations: a rollover (generation 1 recorded with it), a refused second one, activate,
// retire, a /cacerts fetch recorded twice (one row), and `ca status`.
inline void ExerciseCaGenerations(Store& store, const std::string& at) {
  auto generation = [&](int64_t gen, const std::string& state) {
    CaGeneration g{.gen = gen, .state = state, .key_location = "ca.key", .created_at = at};
    g.cert_der = {0x30, 0x01, static_cast<unsigned char>(gen)};
    g.cert_sha256 = ca::Sha256Hex(std::span(g.cert_der.data(), g.cert_der.size()));
    if (gen > 1) g.new_with_old_der = g.old_with_new_der = {0x30, 0x00};
    if (state == "active") g.activated_at = at;
    return g;
  };
  CHECK(store.AddCaGeneration(generation(1, "active"), generation(2, "pending")).value() ==
        CaChange::kDone);
  CHECK(store.AddCaGeneration(generation(1, "active"), generation(3, "pending")).value() ==
        CaChange::kPendingExists);
  CHECK(store.RecordCacertsFetch("device-a", 2, at).has_value());
  CHECK(store.RecordCacertsFetch("device-a", 2, at).has_value());
  CHECK(store.CacertsFetched("device-a", 2).value());
  int64_t gen = 0;
  CHECK(store.ActivateCaGeneration(at, &gen).value() == CaChange::kDone);
  CHECK(store.RetireCaGeneration(at, &gen).value() == CaChange::kDone);
  CHECK(store.CaStatus(at).value().generations.size() == 2);
}

// Retention (`provisiond tidy`): the CRL bound, the rows to remove and their removal, the chain's
// cut, archive read, carry and truncation, then audit verify from the new base.
inline void ExerciseTidy(Store& store) {
  CertificateRecord old = EnrollCertificate(20, 20, "device-t", HashHex(20, 'c'));
  old.not_after = "2020-01-01T00:00:00Z";
  Issue(store, old);
  Intent stale = EnrollIntent(21, 21, "device-u", HashHex(21, 'c'));
  stale.not_after = "2020-01-01T00:00:00Z";
  CHECK(ReserveOrDie(store, stale).decision == Decision::kReserved);
  CHECK(store.NoteCrlBuilt("2021-01-01T00:00:00Z").has_value());
  const TidyBounds bounds{.expired_before = "2025-01-01T00:00:00Z",
                          .revoked_before = store.CrlDroppedBefore().value().value_or(""),
                          .tidied_at = "2026-12-07T00:00:00Z"};
  CHECK(store.TidyCertificates(bounds, 10).value().size() == 1);
  CHECK(store.RemoveCertificates({old.serial_hex}, bounds).value() == 1);
  CHECK(store.TidyIntents(bounds, 10).value().size() == 1);
  CHECK(store.RemoveIntents({stale.serial_hex}, bounds).value() == 1);
  const int64_t head = store.VerifyAuditChain().value().rows_checked;
  const int64_t cut = store.ChainCut("2026-08-30T00:00:00Z", head).value();
  CHECK(store.ChainRows(store.AuditChainBase().value().first_id, cut, 10).has_value());
  CHECK(store.CarryLiveState(cut, 10).has_value());
  CHECK(store.TruncateChain(cut, "checkpoint", 10).has_value());
  auto report = store.VerifyAuditChain();
  REQUIRE(report.has_value());
  CHECK_MESSAGE(report->ok, report->problem);
}

// Issuance (enroll and reenroll, a policy refusal, a resumed intent), the handshake's lookups,
// revocations, the denylist, blocks, every list, the CRL's reads, status counts, recent events
// and audit verify (whole, and from a checkpoint).
inline void ExerciseStore(Store& store) {
  const std::string bootstrap = HashHex(1, 'c');
  const std::string at = "2026-09-01T00:00:00Z";
  CertificateRecord first = EnrollCertificate(1, 1, "device-a", bootstrap);
  Issue(store, first);
  CertificateRecord second = EnrollCertificate(2, 2, "device-b", HashHex(2, 'c'));
  Issue(store, second);
  CertificateRecord renewed = EnrollCertificate(3, 3, "device-a", bootstrap);
  ReenrollWith(renewed, first);
  Issue(store, renewed);
  // The same enrollment again (kAlreadyIssued), a new key on a spent quota, a pending intent
  // resumed, and one left pending then revoked with its device.
  CHECK(ReserveOrDie(store, IntentFor(second)).decision == Decision::kAlreadyIssued);
  CHECK(ReserveOrDie(store, EnrollIntent(4, 4, "device-b", HashHex(2, 'c'))).decision ==
        Decision::kBootstrapExhausted);
  Intent pending = EnrollIntent(5, 5, "device-c", HashHex(5, 'c'));
  CHECK(ReserveOrDie(store, pending).decision == Decision::kReserved);
  CHECK(ReserveOrDie(store, pending).decision == Decision::kResume);
  CHECK(store.PendingIntents().value().size() == 1);
  Intent dropped = EnrollIntent(6, 6, "device-d", HashHex(6, 'c'));
  CHECK(ReserveOrDie(store, dropped).decision == Decision::kReserved);
  CompleteOrDie(store, pending);

  CHECK(store.CertificateStatus(first.serial_hex).has_value());
  CHECK(store.IsBootstrapDenied(bootstrap, "CN=Bootstrap CA", "01").has_value());
  CHECK(store.FindBySerial(second.serial_hex).value().has_value());
  CHECK(store.FindByDevice("device-a").value().size() == 2);
  CHECK(store.RevokeSerial(second.serial_hex, 1, at).value() == 1);
  CHECK(store.RevokeDevice("device-d", 4, at).value() == 1);
  CHECK(store.RevokeDevice("device-a", 4, at).value() == 2);
  REQUIRE(DenyAsAdmin(store, {.fingerprint = HashHex(7, 'c'), .reason = "x", .added_at = at})
              .has_value());
  CHECK(BlockAsAdmin(store, "device-e", "lost", at).value());
  CHECK(store.IsDeviceBlocked("device-e").value());
  CHECK(UnblockAsAdmin(store, "device-e", "found", at).value());
  CHECK(store.ListBlocks(true).has_value());
  CHECK(store.ListDenied().has_value());
  CHECK(store.RecordEvent(SampleEvent("refused")).has_value());

  CHECK(store.ListCertificates({.device_id = "device-a"}).value().size() == 2);
  CHECK(store.ListCertificates({.revoked_only = true}).value().size() == 3);
  CHECK(store.ListCertificates({.expiring_before_iso = "2099-01-01T00:00:00Z"}).has_value());
  CHECK(store.ListCertificates({}).has_value());
  CHECK(store.RevokedUnexpired("2026-01-01T00:00:00Z").has_value());
  CHECK(store.NextCrlNumber().has_value());
  CHECK(store.RevocationCount().value() == 4);
  CHECK(store.CountCertificates().value() == 4);
  CHECK(store.RecentEvents(5).value().size() == 5);
  ExerciseGrants(store, at);
  ExerciseManifests(store);
  ExerciseCaGenerations(store, at);
  auto report = store.VerifyAuditChain();
  REQUIRE(report.has_value());
  CHECK_MESSAGE(report->ok, report->problem);
  // The walk from an audit checkpoint (its head): the primary key's range, not the whole chain.
  auto from = store.VerifyAuditChainFrom(report->rows_checked, report->head_hash);
  REQUIRE(from.has_value());
  CHECK_MESSAGE(from->ok, from->problem);
  ExerciseTidy(store);
}

// The README's example queries (its "Queries" section), as an operator runs them; its two
// LIKE searches of enrollment_events.reason are left out: they are text searches, never indexed.
inline constexpr const char* kReadmeQueries[] = {
    "SELECT serial, kind, not_before, not_after FROM certificates WHERE device_id='dev-00001'",
    "SELECT device_id, serial, not_after FROM certificates WHERE revoked_at IS NULL AND not_after "
    "< strftime('%Y-%m-%dT%H:%M:%SZ','now','+30 days')",
    "SELECT reason, count(*) FROM enrollment_events WHERE outcome <> 'issued' AND time > "
    "strftime('%Y-%m-%dT%H:%M:%SZ','now','-1 hour') GROUP BY reason",
    "SELECT serial, device_id, revoked_at, revocation_reason FROM certificates WHERE revoked_at IS "
    "NOT NULL",
    "SELECT device_id, reason, blocked_at FROM device_blocks WHERE lifted_at IS NULL",
    "SELECT device_id, serial, not_after FROM active_certificates",
    "SELECT der FROM certificates WHERE serial='01'",
    // serverkeygen (issue #19 part 4): which keys the server generated lately.
    "SELECT serial, device_id, time FROM enrollment_events WHERE time > "
    "strftime('%Y-%m-%dT%H:%M:%SZ','now','-1 day') AND reason = 'issued_server_key'",
    // What one bootstrap certificate obtained and every attempt that presented it (32-byte
    // SHA-256 columns since schema version 13: an X'...' literal, no unhex() in SQLite 3.40).
    "SELECT serial, device_id, lower(hex(fingerprint_sha256)) FROM certificates WHERE "
    "auth_cert_fingerprint = X'abababababababababababababababababababababababababababababababab'",
    "SELECT time, endpoint, outcome, reason FROM enrollment_events WHERE presented_fingerprint = "
    "X'abababababababababababababababababababababababababababababababab'",
};

// The psql forms of the README's strftime and X'...' queries (docs/shared-store.md).
inline constexpr const char* kReadmeQueriesPg[] = {
    "SELECT device_id, serial, not_after FROM certificates WHERE revoked_at IS NULL AND not_after "
    "< to_char(now() AT TIME ZONE 'UTC' + interval '30 days', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
    "SELECT reason, count(*) FROM enrollment_events WHERE outcome <> 'issued' AND time > "
    "to_char(now() AT TIME ZONE 'UTC' - interval '1 hour', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "GROUP BY reason",
    "SELECT serial, device_id, time FROM enrollment_events WHERE time > "
    "to_char(now() AT TIME ZONE 'UTC' - interval '1 day', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "AND reason = 'issued_server_key'",
    "SELECT serial, device_id, encode(fingerprint_sha256, 'hex') FROM certificates WHERE "
    "auth_cert_fingerprint = decode('abababababababababababababababababababababababababababababababab', 'hex')",
    "SELECT time, endpoint, outcome, reason FROM enrollment_events WHERE presented_fingerprint = "
    "decode('abababababababababababababababababababababababababababababababab', 'hex')",
};

// Statements that can read a table: SELECT, UPDATE, DELETE, and INSERT ... SELECT.
inline bool IsQuery(std::string_view sql) {
  return sql.starts_with("SELECT") || sql.starts_with("UPDATE") || sql.starts_with("DELETE") ||
         sql.starts_with("WITH") ||
         (sql.starts_with("INSERT") && sql.find("SELECT") != std::string_view::npos);
}

// Whole-table reads by design, each with its reason:
//   - `audit verify` walks the chain (every event by id), and cross-checks every intent, revoked
//     certificate and state event against it: linear in the store, as the issue allows.
//   - the newest event / the chain's head: ORDER BY id DESC LIMIT n reads n rows from the end of
//     the rowid b-tree (SQLite's plan says SCAN, but it stops after n).
//   - count(*) FROM certificates (status and metrics): a count is linear in any index.
inline bool IsWholeTableByDesign(std::string_view sql) {
  constexpr std::string_view kMarks[] = {
      "FROM enrollment_events ORDER BY id",  // the chain walk; the newest rows (LIMIT)
      "FROM enrollment_events WHERE endpoint = 'state' ORDER BY id",  // verify: state events
      "FROM issuance_intents ORDER BY rowid",                         // verify: every intent
      // verify: certificates against the chain's intents, and against the pending intents
      "FROM certificates WHERE tbs_sha256 IS NOT NULL ORDER BY id",
      "FROM certificates WHERE tbs_sha256 IS NULL AND profile <> ''",
      "SELECT count(*) FROM certificates",  // CountCertificates
      // verify: every revoked certificate against its revocation event
      "FROM certificates WHERE revoked_at IS NOT NULL ORDER BY id",
      "WHERE 1 = 1 ORDER BY id LIMIT",  // `list`: the first n certificates by id
      "FROM rebootstrap_grants ORDER BY id",  // `list --grants` and verify: every grant
      // verify: every manifest batch and row against its "manifest_imported" event
      "FROM manifest_batches ORDER BY id",
      // `ca status`, serve's start and reload, and verify: every CA generation (one per rollover)
      "FROM ca_generations ORDER BY gen",
      "FROM ca_generations",  // the rollover's summary of the same few rows
      "FROM manifest_devices ORDER BY batch_id",
      // `manifest report`: counts every attempt that presented a certificate in no manifest;
      // reads the partial index enrollment_events_presented_fingerprint whole (linear in such
      // attempts, as a count is), never the table
      "count(DISTINCT enrollment_events.presented_fingerprint)",
      "FROM enroll_tombstones ORDER BY serial",  // verify: every tombstone (tidy, audit_tidy.h)
  };
  for (std::string_view mark : kMarks) {
    if (sql.find(mark) != std::string_view::npos) return true;
  }
  return false;
}

// A SQLite EXPLAIN QUERY PLAN line that reads a growing table (or all of an index on it) whole.
// Reading all of a partial index is not: it holds the few rows the statement wants (pending
// intents, revoked certificates, ...).
inline bool IsFullScan(std::string_view detail) {
  for (std::string_view partial :
       {"issuance_intents_pending", "certificates_revoked_not_after",
        "certificates_unrevoked_not_after", "issuance_intents_revoked_not_after"}) {
    if (detail.ends_with("USING INDEX " + std::string(partial))) return false;
  }
  for (std::string_view table :
       {"certificates", "issuance_intents", "enrollment_events", "rebootstrap_grants",
        "manifest_devices", "cacerts_fetches"}) {
    const std::string scan = "SCAN " + std::string(table);
    if (detail == scan || detail.starts_with(scan + " ")) return true;
  }
  return false;
}

// A PostgreSQL EXPLAIN line that reads a growing table whole.
inline bool IsPgFullScan(std::string_view line) {
  for (std::string_view table :
       {"certificates", "issuance_intents", "enrollment_events", "rebootstrap_grants",
        "manifest_devices"}) {
    const std::string scan = "Seq Scan on " + std::string(table);
    const size_t at = line.find(scan);
    if (at == std::string_view::npos) continue;
    const size_t end = at + scan.size();
    if (end == line.size() || line[end] == ' ') return true;
  }
  return false;
}

}  // namespace db::testing
