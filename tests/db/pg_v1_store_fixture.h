// pg_v1_store_fixture.h — a PostgreSQL database as the schema version 1 release wrote it (intents
// with their TBS, certificates, the chain and its head), for the tests of the migrations after it
// (pg_compact_test.cc, pg_lean_test.cc).
#pragma once

#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "ca/encoding.h"
#include "db/audit.h"
#include "db/audit_state.h"
#include "db/pg_conn.h"
#include "tests/db/store_fixture.h"

namespace db::testing {

inline void Ok(const Result<int64_t>& ran) {
  REQUIRE_MESSAGE(ran.has_value(), (ran ? "" : ran.error().detail));
}

inline std::string One(PgConn& db, const std::string& sql) {
  auto rows = db.Query(sql.c_str());
  REQUIRE_MESSAGE(rows.has_value(), (rows ? "" : rows.error().detail));
  return rows->empty() || rows->Row(0).IsNull(0) ? "NULL" : rows->Row(0).Text(0);
}

// The chain as version 1 wrote it: the next id and prev_hash from audit_head, then the head moved.
inline void Chain(PgConn& db, const EventRecord& e, const std::string& serial = "") {
  const int64_t id = std::stoll(One(db, "SELECT last_id FROM audit_head")) + 1;
  const std::string prev = One(db, "SELECT last_hash FROM audit_head");
  std::optional<std::string> stored;
  if (!serial.empty()) stored = serial;
  const std::string hash = EventRowHash(id, e, stored, prev);
  Ok(
      db.Run("INSERT INTO enrollment_events (id, time, peer, presented_fingerprint, "
             "presented_subject, device_id, endpoint, outcome, http_status, reason, serial, "
             "prev_hash, row_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
             PgParams()
                 .Int(id)
                 .Text(e.time)
                 .Text(e.peer)
                 .Text(e.presented_fingerprint)
                 .Text(e.presented_subject)
                 .Text(e.device_id)
                 .Text(e.endpoint)
                 .Text(e.outcome)
                 .Int(e.http_status)
                 .Text(e.reason)
                 .OptionalText(stored)
                 .Text(prev)
                 .Text(hash)));
  Ok(db.Run("UPDATE audit_head SET last_id = $1, last_hash = $2", PgParams().Int(id).Text(hash)));
}

// Intent n as version 1 wrote it (TBS kept), with its state event; issued: its certificate too.
inline void AddV1Issuance(PgConn& db, int n, bool issued) {
  const Intent i = EnrollIntent(n, n, "device-" + std::to_string(n), HashHex(n, 'c'));
  Ok(
      db.Run("INSERT INTO issuance_intents (serial, device_id, kind, public_key_sha256, "
             "auth_cert_fingerprint, auth_cert_issuer, auth_cert_serial, tbs, not_after, peer, "
             "created_at, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
             PgParams()
                 .Text(i.serial_hex)
                 .Text(i.device_id)
                 .Text(i.kind)
                 .Text(i.public_key_sha256)
                 .Text(i.auth_cert_fingerprint)
                 .Text(i.auth_cert_issuer)
                 .Text(i.auth_cert_serial)
                 .Bytes(i.tbs)
                 .Text(i.not_after)
                 .Text(i.peer)
                 .Text(i.created_at)
                 .Text(issued ? "issued" : "pending")));
  Chain(db, IntentStateEvent(i));
  if (!issued) return;
  const CertificateRecord c = CertificateFor(i);
  Ok(
      db.Run("INSERT INTO certificates (serial, device_id, subject, san, not_before, not_after, "
             "der, fingerprint_sha256, public_key_sha256, auth_cert_issuer, auth_cert_serial, "
             "auth_cert_fingerprint, kind, peer, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, "
             "$8, $9, $10, $11, $12, $13, $14, $15)",
             PgParams()
                 .Text(c.serial_hex)
                 .Text(c.device_id)
                 .Text(c.subject)
                 .Text(c.san)
                 .Text(c.not_before)
                 .Text(c.not_after)
                 .Bytes(c.der)
                 .Text(c.fingerprint_sha256)
                 .Text(c.public_key_sha256)
                 .Text(c.auth_cert_issuer)
                 .Text(c.auth_cert_serial)
                 .Text(c.auth_cert_fingerprint)
                 .Text(c.kind)
                 .Text(c.peer)
                 .Text(c.issued_at)));
  Chain(db, SampleEvent("issued", c.serial_hex), c.serial_hex);
}

}  // namespace db::testing
