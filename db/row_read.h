// row_read.h — the column lists of `certificates`, `issuance_intents` and `enrollment_events` as
// both engines select them, and the readers of those rows (any RowView: SQLite's Statement or
// PostgreSQL's PgRow). The lists and the readers must stay in the same order.
// Private to db/.
#pragma once

#include "db/records.h"
#include "db/row_view.h"
#include "db/statement.h"

namespace db {

// "SELECT <every certificate column> FROM certificates " — append a WHERE clause.
#define PROVISIOND_CERT_SELECT                                                               \
  "SELECT serial, device_id, subject, san, not_before, not_after, der, fingerprint_sha256, " \
  "public_key_sha256, auth_cert_issuer, auth_cert_serial, auth_cert_fingerprint, kind, "     \
  "peer, issued_at, revoked_at, revocation_reason, profile, ca_gen FROM certificates "

// "SELECT <every intent column> FROM issuance_intents " — append a WHERE clause.
#define PROVISIOND_INTENT_SELECT                                                               \
  "SELECT serial, device_id, kind, public_key_sha256, auth_cert_fingerprint, "                 \
  "auth_cert_issuer, auth_cert_serial, tbs, not_after, peer, created_at, status, revoked_at, " \
  "revocation_reason, profile FROM issuance_intents "

// The columns of an event as ReadEvent reads them (without the chain's hashes).
#define PROVISIOND_EVENT_COLUMNS                                                         \
  "time, peer, presented_fingerprint, presented_subject, device_id, endpoint, outcome, " \
  "http_status, reason, serial "

// The SHA-256 columns (certificates' fingerprint_sha256, public_key_sha256, auth_cert_fingerprint
// and tbs_sha256, the intents' and tombstones' of the same names, manifest_devices.bootstrap_sha256,
// enrollment_events.presented_fingerprint) hold the 32 bytes since SQLite schema 13 / PostgreSQL
// 10, as the chain's row_hash does since 11 / 8 (db/audit.h): every record, log, output and the
// chain's hash encoding keep lowercase hex; SqlParams::Sha256 binds one, Sha256Column reads one
// back as hex (NULL as "": an event without a presented certificate, an old certificate's
// tbs_sha256).
std::string Sha256Column(const RowView& row, int column);
// The same for SQLite's own statements (the chain's append, db/audit.cc): `as_bytes` false binds
// the text as it is, for the tables of a store before schema version 13.
void BindSha256(Statement& stmt, int index, std::string_view hex, bool as_bytes);

CertificateRecord ReadCertificate(const RowView& row);  // a PROVISIOND_CERT_SELECT row
Intent ReadIntent(const RowView& row);                  // a PROVISIOND_INTENT_SELECT row
EventRecord ReadEvent(const RowView& row);              // a PROVISIOND_EVENT_COLUMNS row

}  // namespace db
