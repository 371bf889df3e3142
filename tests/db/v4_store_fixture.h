// v4_store_fixture.h — a SQLite file as the schema version 4 release left it (intents with their
// TBS, certificates, the chain), for the tests of the migrations after it (compact_test.cc,
// lean_test.cc).
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "ca/encoding.h"
#include "db/audit.h"
#include "db/audit_state.h"
#include "db/schema.h"
#include "db/statement.h"
#include "db/store.h"
#include "tests/db/sqlite_fixture.h"

namespace db::testing {

inline constexpr const char* kAt = "2026-09-01T00:00:00Z";

inline std::string Raw(const std::string& path, const std::string& sql) {
  return QueryRaw(OpenRaw(path).get(), sql);
}

inline std::string IntentColumn(const std::string& path, const std::string& column, int serial) {
  return Raw(path, "SELECT ifnull(" + column + ", 'NULL') FROM issuance_intents WHERE serial = '" +
                       SerialHex(serial) + "'");
}

inline void RunOrDie(Statement& stmt) {
  auto ran = stmt.Run();
  REQUIRE_MESSAGE(ran.has_value(), (ran ? "" : ran.error().detail));
}

inline void Chain(Connection& raw, const EventRecord& event, const std::string& serial = "") {
  auto inserted = InsertChainedEvent(raw, event, serial, HashForm::kHex);  // that version's form
  REQUIRE_MESSAGE(inserted.has_value(), (inserted ? "" : inserted.error().detail));
}

// One intent as the version 4 release wrote it (its TBS kept whatever its status), with its
// state event; an issued one with its certificate (the version 4 insert) and "issued" event.
inline void AddV4Issuance(Connection& raw, const Intent& intent, bool issued) {
  auto stmt = raw.Prepare(
      "INSERT INTO issuance_intents (serial, device_id, kind, public_key_sha256, "
      "auth_cert_fingerprint, auth_cert_issuer, auth_cert_serial, tbs, not_after, peer, "
      "created_at, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'pending')");
  REQUIRE(stmt.has_value());
  int column = 1;
  for (const std::string* text :
       {&intent.serial_hex, &intent.device_id, &intent.kind, &intent.public_key_sha256,
        &intent.auth_cert_fingerprint, &intent.auth_cert_issuer, &intent.auth_cert_serial}) {
    stmt->BindText(column++, *text);
  }
  stmt->BindBlob(column++, intent.tbs);
  for (const std::string* text : {&intent.not_after, &intent.peer, &intent.created_at}) {
    stmt->BindText(column++, *text);
  }
  RunOrDie(*stmt);
  Chain(raw, IntentStateEvent(intent));
  if (!issued) return;
  const CertificateRecord cert = CertificateFor(intent);
  auto insert = raw.Prepare(
      "INSERT INTO certificates (serial, device_id, subject, san, not_before, not_after, der, "
      "fingerprint_sha256, public_key_sha256, auth_cert_issuer, auth_cert_serial, "
      "auth_cert_fingerprint, kind, peer, issued_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
  REQUIRE(insert.has_value());
  column = 1;
  for (const std::string* text : {&cert.serial_hex, &cert.device_id, &cert.subject, &cert.san,
                                  &cert.not_before, &cert.not_after}) {
    insert->BindText(column++, *text);
  }
  insert->BindBlob(column++, cert.der);
  for (const std::string* text :
       {&cert.fingerprint_sha256, &cert.public_key_sha256, &cert.auth_cert_issuer,
        &cert.auth_cert_serial, &cert.auth_cert_fingerprint, &cert.kind, &cert.peer,
        &cert.issued_at}) {
    insert->BindText(column++, *text);
  }
  RunOrDie(*insert);
  Chain(raw, SampleEvent("issued", cert.serial_hex), cert.serial_hex);
  auto mark = raw.Prepare("UPDATE issuance_intents SET status = 'issued' WHERE serial = ?1");
  REQUIRE(mark.has_value());
  mark->BindText(1, intent.serial_hex);
  RunOrDie(*mark);
}

// A version 4 file: intents 1 and 2 issued (certificate 2 then revoked), intent 3 pending.
inline void MakeVersion4File(const std::string& path) {
  Connection raw(ConnectionPtr(OpenRaw(path, /*create=*/true).release()));
  REQUIRE(MigrateTo(raw.get(), 4).has_value());
  ExecRaw(raw.get(), "PRAGMA foreign_keys = ON; BEGIN IMMEDIATE");
  for (int n = 1; n <= 3; ++n) {
    AddV4Issuance(raw, EnrollIntent(n, n, "device-" + std::to_string(n), HashHex(n, 'c')), n < 3);
  }
  ExecRaw(raw.get(), "UPDATE certificates SET revoked_at = '" + std::string(kAt) +
                         "', revocation_reason = 1 WHERE serial = '" + SerialHex(2) + "'");
  Chain(raw, RevokedStateEvent(SerialHex(2), "device-2", kAt, 1));
  ExecRaw(raw.get(), "COMMIT");
  REQUIRE(QueryRawInt(raw.get(), "PRAGMA user_version") == 4);
}

inline std::string TbsHash(int n) {
  return ca::Sha256Hex(EnrollIntent(n, n, "device-" + std::to_string(n), HashHex(n, 'c')).tbs);
}

}  // namespace db::testing
