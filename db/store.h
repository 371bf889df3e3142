// store.h — provisiond's SQLite store: the schema, its migrations and every SQL statement.
// Start here for anything persisted: certificates issued and every enrollment attempt.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace db {

enum class Code {
  kBusy,             // locked by another connection beyond busy_timeout (try again later)
  kFull,             // disk or database full
  kIo,               // I/O error, read-only file system, cannot open
  kCorrupt,          // the file is not a database or failed an integrity check
  kDuplicateSerial,  // a certificate with this serial already exists: pick a new serial
  kConstraint,       // any other constraint (or a trigger) refused the write
  kSchema,           // the file's schema version is newer than this program knows
  kInternal,         // SQL or API misuse: a bug
};

// detail names the SQLite call and sqlite3_errmsg.
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
  kDeviceBlocked,       // device_id has an active block (Store::BlockDevice): nothing inserted
  kAuthRevoked,         // reenroll: the authenticating certificate (auth_cert_serial with
                        // auth_cert_fingerprint) is not an unrevoked row of `certificates`
  kAuthDenylisted,      // enroll: the bootstrap certificate is in bootstrap_denylist (by
                        // fingerprint, or by issuer + serial)
  kDeviceEnrolled,      // enroll: this bootstrap certificate is within its quota, but kind='enroll'
                        // certificates + pending kind='enroll' intents with this device_id (from
                        // other bootstrap certificates) >= max_per_bootstrap: nothing inserted
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
  std::optional<std::string> lifted_at;    // set by UnblockDevice
  std::optional<std::string> lift_reason;  // set together with lifted_at
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
};

inline constexpr int kSchemaVersion = 4;

class Connection;
class Writer;

// Thread-safe: every call takes the store's mutex. All statements bind their parameters.
// A db::Writer (db/writer.h) attached to a Store writes through a second connection of its own,
// so reads on this one never wait for the writer's commits.
class Store {
 public:
  // Opens (creating if absent, mode 0600) the database, runs PRAGMA quick_check on an existing
  // file, applies migrations up to kSchemaVersion, and sets journal_mode=WAL, synchronous=FULL,
  // busy_timeout=5000, foreign_keys=ON. kSchema if the file is newer than this program. Opens a
  // second connection with the same settings for a db::Writer. `provisiond serve` calls
  // PendingIntents() after it and logs how many issuances were interrupted between their two
  // phases (`pending_intents`); `provisiond list --pending` lists them.
  static Result<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Inserts one event row (its own transaction), chained like every event (VerifyAuditChain).
  Result<void> RecordEvent(const EventRecord& event);

  // Two-phase issuance ("order, then finalize"), the only way a certificate row is written (the
  // daemon submits both phases through a db::Writer). An intent's states:
  //
  //   Reserve ──► pending ──Complete──► issued          (certificate row + "issued" event)
  //                  │
  //                  └──RevokeSerial/RevokeDevice──► pending + revoked_at  (Complete refuses it;
  //                                                    it stays on the CRL until not_after)
  //
  // The caller commits the intent (the serial and the exact TBSCertificate), then signs, then
  // commits the certificate; it sends the certificate only after Complete succeeded. A crash
  // between the phases leaves a pending intent: the device's retry gets kResume and finishes it,
  // and PendingIntents() lists what is left. Nothing moves an intent back to pending.
  //
  // Reserve decides and, when allowed, inserts `intent` as 'pending' in ONE BEGIN IMMEDIATE
  // transaction. Checks, in order:
  //   0a. device_id has an active block (BlockDevice)                  -> kDeviceBlocked
  //   0b. kind "reenroll": the authenticating certificate (auth_cert_serial and
  //       auth_cert_fingerprint) is not an unrevoked certificate row    -> kAuthRevoked
  //   0c. kind "enroll": the bootstrap certificate is denylisted (auth_cert_fingerprint, or
  //       auth_cert_issuer + auth_cert_serial)                          -> kAuthDenylisted
  //   So a revocation, block or denylisting committed after a connection's handshake still
  //   refuses that connection's next request: the decision and the insert share the write lock.
  //   1. public_key_sha256 in a certificate or a pending intent of another device_id -> kKeyReuse
  //   2. kind "enroll" only: a not-revoked kind='enroll' certificate with this
  //      auth_cert_fingerprint and public_key_sha256                  -> kAlreadyIssued (existing)
  //   3. kind "enroll" only: a pending, not-revoked kind='enroll' intent with this
  //      auth_cert_fingerprint and public_key_sha256 (the newest)      -> kResume (intent)
  //   4. kind "enroll" only: kind='enroll' certificates + pending kind='enroll' intents with this
  //      auth_cert_fingerprint >= policy.max_per_bootstrap             -> kBootstrapExhausted
  //      ... or with this device_id >= policy.max_per_bootstrap          -> kDeviceEnrolled
  //   5. serial_hex already in certificates or intents                 -> error kDuplicateSerial
  //   6. insert, and append its "intent" state event (serial, SHA-256 of tbs) to the audit chain
  //                                                                    -> kReserved
  // Only kReserved writes anything. kConstraint when the schema refuses a value (empty tbs, ...).
  Result<IssueOutcome> Reserve(const Intent& intent, const IssuancePolicy& policy);

  // Phase two, in ONE transaction: the intent with cert.serial_hex must exist, be 'pending' and
  // not revoked, and cert must match it (device_id, kind, public_key_sha256,
  // auth_cert_fingerprint, not_after, profile), else kConstraint naming which. Then inserts the
  // certificate and its chained "issued" event and marks the intent
  // 'issued'. Success: committed and durable. On any error nothing was written.
  Result<void> Complete(const CertificateRecord& cert, const EventRecord& issued_event);

  // Every pending intent (revoked or not), oldest first: for the start-up report and operators.
  Result<std::vector<Intent>> PendingIntents();

  // Revocation state of one certificate; one lookup on the unique serial index (handshake path),
  // and one on issuance_intents' primary key when no certificate has that serial.
  Result<CertStatus> CertificateStatus(std::string_view serial_hex);
  // Sets revoked_at (ISO 8601 UTC, passed in) and revocation_reason (RFC 5280 CRLReason: 0..10,
  // not 7) on the matching rows not already revoked: certificates and pending intents (whose
  // serials then go on the CRL and which Complete then refuses). Returns how many rows changed,
  // both tables together: 0 if the serial / device is unknown or already revoked. kConstraint for
  // a bad reason or time. Each row revoked gets a "revoked" state event in the audit chain, in the
  // same transaction. serial_hex must be canonical (ca::NormalizeSerialHex).
  Result<int> RevokeSerial(std::string_view serial_hex, int reason, std::string_view revoked_at);
  Result<int> RevokeDevice(std::string_view device_id, int reason, std::string_view revoked_at);

  // Adds one denylist row. kConstraint unless fingerprint (64 lowercase hex) or issuer + serial
  // (lowercase hex) is set, or if added_at is not ISO 8601 UTC. The row and its "denylisted" state
  // event are written in one transaction. entry.serial_hex must be canonical.
  Result<void> DenyBootstrap(const DenyEntry& entry);

  // Blocks every future issuance to device_id (Reserve answers kDeviceBlocked)
  // until UnblockDevice; the row and its "blocked" state event in one transaction. false (nothing
  // written) if the device is already blocked. kConstraint for an empty device_id or a bad time.
  Result<bool> BlockDevice(std::string_view device_id, std::string_view reason,
                           std::string_view blocked_at);
  // Lifts the device's active block (lifted_at, lift_reason) with an "unblocked" state event.
  // false (nothing written) if it has none.
  Result<bool> UnblockDevice(std::string_view device_id, std::string_view reason,
                             std::string_view lifted_at);
  // true if device_id has an active block. One probe of a unique partial index (handshake path).
  Result<bool> IsDeviceBlocked(std::string_view device_id);
  // Every block, oldest first; active_only: only those not lifted.
  Result<std::vector<DeviceBlock>> ListBlocks(bool active_only);
  // true if a row has this fingerprint, or has this issuer AND this serial. Exact text match on
  // indexed columns (handshake path): pass the values as ca::Sha256Hex, ca::DnString and
  // ca::CertSerialHex render them. "" matches nothing.
  Result<bool> IsBootstrapDenied(std::string_view fingerprint, std::string_view issuer,
                                 std::string_view serial_hex);
  // Every denylist row, oldest first.
  Result<std::vector<DenyEntry>> ListDenied();

  // Certificates for the CRL: revoked_at set and not_after > now_iso (ISO 8601 UTC), soonest
  // expiry first (then certificates before intents, then by id). Revoked pending intents are
  // included as records carrying what is known of them (serial_hex, device_id, kind, not_after,
  // public_key_sha256, auth_cert_*, peer, revoked_at, revocation_reason; der, subject, san,
  // not_before, fingerprint_sha256 and issued_at are empty).
  Result<std::vector<CertificateRecord>> RevokedUnexpired(std::string_view now_iso);
  // Increments the stored CRL number and returns the new value (1 for the first CRL), in its own
  // transaction: two callers never get the same number, and it survives restarts.
  Result<int64_t> NextCrlNumber();

  // Certificates matching every filter set, in issuance (id) order, at most filter.limit.
  Result<std::vector<CertificateRecord>> ListCertificates(const ListFilter& filter);

  // Recomputes the enrollment_events hash chain (db/audit.h) over all rows, holding the store's
  // mutex for the scan. Detects an edited row (first_bad_id = that row) and a deleted row that
  // had a successor (first_bad_id = the successor). Limits: deleting the NEWEST rows leaves a
  // valid shorter chain, and the hash is unkeyed, so someone who can write the file can rewrite
  // the whole chain; both are only detectable by comparing head_hash with a value recorded
  // outside the database. Rows migrated from schema version 1 are vouched for only from the
  // migration on. A failed check is a report with ok=false, not an error.
  // Then cross-checks the state tables against the chain's state events (db/audit_state.h): a
  // revocation (certificate or intent), denylist row, block or lift, or intent (serial + SHA-256
  // of its TBS) that differs from what the chain recorded, or that the chain lacks, or a state
  // event whose row is gone or changed: ok=false, the problem naming the row (and first_bad_id
  // the event, when there is one).
  Result<AuditReport> VerifyAuditChain();

  Result<std::optional<CertificateRecord>> FindBySerial(std::string_view serial_hex);
  Result<std::vector<CertificateRecord>> FindByDevice(std::string_view device_id);
  Result<std::vector<EventRecord>> RecentEvents(int limit);
  Result<int64_t> CountCertificates();

  // What SQLite reports for the settings durability depends on (so tests can assert them).
  struct Settings {
    std::string journal_mode;  // "wal"
    int synchronous = -1;      // 2 = FULL
    int foreign_keys = -1;     // 1
    int busy_timeout_ms = -1;
    int user_version = -1;
  };
  Result<Settings> EffectiveSettings();

 private:
  friend class Writer;  // uses batch_mu_ and batch_db_, nothing else
  Store(std::unique_ptr<Connection> db, std::unique_ptr<Connection> batch_db);
  std::mutex mu_;  // held for every use of db_
  std::unique_ptr<Connection> db_;
  // The Writer's connection: a Writer's thread holds batch_mu_ for each of its transactions.
  std::mutex batch_mu_;
  std::unique_ptr<Connection> batch_db_;
};

}  // namespace db
