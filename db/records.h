// records.h — the values the store keeps and answers with (certificates, events, intents,
// blocks, denylist rows), its Error/Result, and the decisions of Store::Reserve.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"

namespace db {

// What went wrong, as every backend reports it (SQLite's result codes are mapped in
// db/statement.cc).
enum class Code {
  kBusy,             // locked by another connection beyond the busy timeout (try again later)
  kFull,             // disk or database full
  kIo,               // I/O error, read-only file system, cannot open
  kCorrupt,          // the file is not a database or failed an integrity check
  kDuplicateSerial,  // a certificate with this serial already exists: pick a new serial
  kConstraint,       // any other constraint (or a trigger) refused the write
  kSchema,           // the stored schema version is newer than this program knows
  kInternal,         // SQL or API misuse: a bug
};

// detail names the backend's call and its message (SQLite: sqlite3_errmsg).
using Error = base::ErrorOf<Code>;

template <typename T>
using Result = base::Result<T, Error>;

// One row of `certificates`. Times are UTC ISO 8601 text ("2026-11-27T07:50:28Z").
struct CertificateRecord {
  std::string serial_hex;
  std::string device_id;
  std::string subject;
  std::string san;
  std::string not_before;
  std::string not_after;
  std::vector<unsigned char> der;
  std::string fingerprint_sha256;
  std::string public_key_sha256;
  // The certificate the device authenticated with: its bootstrap certificate for "enroll",
  // its previous operational certificate for "reenroll".
  std::string auth_cert_issuer;
  std::string auth_cert_serial;
  std::string auth_cert_fingerprint;
  std::string kind;  // "enroll" | "reenroll"
  std::string peer;  // "127.0.0.1:53122"
  std::string issued_at;
  std::optional<std::string> revoked_at;
  std::optional<int> revocation_reason;
  // The label of the certificate profile it was issued under; "" = the default profile
  // (schema version 4).
  std::string profile;
  // The CA generation that signed it (db/ca_generation_records.h); 1 before any rollover.
  int64_t ca_gen = 1;
};

// One row of `enrollment_events`: every attempt, success or not.
struct EventRecord {
  std::string time;
  std::string peer;
  std::string presented_fingerprint;  // "" when no client certificate was presented
  std::string presented_subject;      // "" when none
  std::string device_id;              // "" when not known
  std::string endpoint;               // "simpleenroll", "simplereenroll", "cacerts", "tls", ...
  std::string outcome;                // "issued", "rejected", "error", "handshake_failed", ...
  int http_status = 0;                // 0 when no HTTP response was sent (TLS failures)
  std::string reason;
  std::string serial_hex;             // the issued serial for "issued", else ""
};

// One row of `issuance_intents` (schema version 3): phase one of a two-phase issuance, see
// Store::Reserve. Times are UTC ISO 8601 text, hashes and serials lowercase hex.
struct Intent {
  std::string serial_hex;  // the serial the certificate will carry
  std::string device_id;
  std::string kind;  // "enroll" | "reenroll"
  std::string public_key_sha256;
  std::string auth_cert_fingerprint;  // as CertificateRecord::auth_cert_fingerprint
  std::string auth_cert_issuer;
  std::string auth_cert_serial;
  std::vector<unsigned char> tbs;  // DER TBSCertificate to sign; never empty
  std::string not_after;           // the TBSCertificate's notAfter
  std::string peer;
  std::string created_at;
  std::string status;  // "pending" | "issued"; Reserve ignores it and stores "pending"
  // Set by RevokeSerial / RevokeDevice on a pending intent; Reserve ignores them.
  std::optional<std::string> revoked_at;
  std::optional<int> revocation_reason;
  std::string profile;  // as CertificateRecord::profile; Complete requires the same
};

// Issuance policy, applied by Store::Reserve (and the Writer's Reserve operations) inside the
// transaction that inserts the intent.
struct IssuancePolicy {
  // enroll only: how many certificates one bootstrap certificate (auth_cert_fingerprint,
  // kind='enroll') may obtain, counting revoked ones and pending intents (which will become
  // certificates). The same limit applies to one device_id (kind='enroll' rows with that
  // device_id, whichever bootstrap certificate obtained them). <= 0 refuses every new enrollment.
  int max_per_bootstrap = 1;
};

enum class Decision {
  kReserved,            // Reserve: the intent was inserted as 'pending' and committed
  kResume,              // Reserve, enroll: a pending, unrevoked intent for this bootstrap
                        // fingerprint with the SAME public_key_sha256 exists; nothing inserted;
                        // IssueOutcome::intent is it. Sign ITS tbs and Complete it (a device
                        // retrying after a crash between the two phases finishes that issuance)
  kAlreadyIssued,       // enroll retry: a certificate for this bootstrap fingerprint with the SAME
                        // public_key_sha256 exists (not revoked); nothing inserted; `existing` is
                        // that row (the newest such)
  kBootstrapExhausted,  // enroll: kind='enroll' certificates with this auth_cert_fingerprint +
                        // pending kind='enroll' intents with it >= max_per_bootstrap (and no
                        // same-key row): nothing inserted
  kKeyReuse,            // the public key (public_key_sha256) is already in a certificate, or a
                        // pending intent, of ANOTHER device_id (revoked or not): nothing inserted
  kDeviceBlocked,       // device_id has an active block (BlockDeviceRecorded): nothing inserted
  kAuthRevoked,         // reenroll: the authenticating certificate (auth_cert_serial with
                        // auth_cert_fingerprint) is not an unrevoked row of `certificates`
  kAuthDenylisted,      // enroll: the bootstrap certificate is in bootstrap_denylist (by
                        // fingerprint, or by issuer + serial)
  kDeviceEnrolled,      // enroll: this bootstrap certificate is within its quota, but kind='enroll'
                        // certificates + pending kind='enroll' intents with this device_id (from
                        // other bootstrap certificates) >= max_per_bootstrap: nothing inserted
  // enroll, instead of kBootstrapExhausted / kDeviceEnrolled when the device's own bootstrap
  // certificate asks and the device has a re-bootstrap grant (Store::GrantRebootstrapRecorded):
  kRebootstrapGrantExpired,  // its newest grant is unspent but expired: nothing inserted
  kRebootstrapGrantSpent,    // its newest grant was spent by an earlier issuance: nothing inserted
  kRebootstrapKeyNotNew,     // the grant is open but the key was certified (or is pending) for
                             // this device before: nothing inserted, the grant stays open
};

struct IssueOutcome {
  Decision decision;
  std::optional<CertificateRecord> existing;  // set only for kAlreadyIssued
  std::optional<Intent> intent;               // set only for kResume
};

// kUnknown: no certificate with that serial (a serial that is only a pending intent is kUnknown,
// or kRevoked once that intent is revoked).
enum class CertStatus { kActive, kRevoked, kUnknown };

// One row of `bootstrap_denylist`: fingerprint OR (issuer + serial) set; "" means unset (NULL).
struct DenyEntry {
  std::string fingerprint;  // SHA-256 hex of the bootstrap certificate's DER
  std::string issuer;       // as ca::DnString renders the issuer DN
  std::string serial_hex;   // canonical (ca::NormalizeSerialHex), as ca::CertSerialHex renders it
  std::string reason;
  std::string added_at;  // ISO 8601 UTC
};

// One row of `device_blocks` (schema version 4): an operator's block on a device id. Lifting it
// keeps the row (lifted_at, lift_reason set), so the history stays and the audit chain's
// "unblocked" event has a row to match.
struct DeviceBlock {
  int64_t id = 0;
  std::string device_id;
  std::string reason;
  std::string blocked_at;                  // ISO 8601 UTC
  std::optional<std::string> lifted_at;    // set by UnblockDeviceRecorded
  std::optional<std::string> lift_reason;  // set together with lifted_at
};

// One row of `rebootstrap_grants`: an operator's single-use, time-boxed allowance for a device
// whose bootstrap certificate is used up (a factory reset) to enroll once more with a new key
// (Store::GrantRebootstrapRecorded, Store::Reserve's check 4). Times ISO 8601 UTC.
struct RebootstrapGrant {
  int64_t id = 0;
  std::string device_id;
  std::string reason;
  std::string granted_at;
  std::string expires_at;  // the grant may be spent while now < expires_at
  bool revoke_previous = false;  // Complete revokes the device's other certificates (superseded)
  std::optional<std::string> spent_at;      // set with spent_serial by the Reserve that spent it
  std::optional<std::string> spent_serial;  // the serial of the intent it was spent on
};

struct ListFilter {
  std::optional<std::string> device_id;
  bool revoked_only = false;
  std::optional<std::string> expiring_before_iso;  // not_after < this and not revoked
  int limit = 1000;                                // <= 0 lists nothing
};

// The result of walking the enrollment_events hash chain (see Store::VerifyAuditChain).
struct AuditReport {
  bool ok;
  int64_t rows_checked;  // every row in the table
  std::optional<int64_t> first_bad_id;
  // "" when ok; else the first problem, e.g. "row 17 was altered (hash mismatch)",
  // "row 18 follows a deleted row (prev_hash mismatch after id 16)".
  std::string problem;
  std::string head_hash;  // row_hash of the newest row (64 zeros when empty): note it elsewhere
  int64_t head_id = 0;    // that row's id, as the walk read it (0 when no row was walked)
};

}  // namespace db
