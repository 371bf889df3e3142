// store.h — db::Store, the store's interface: what the daemon and admin commands record and ask
// (the authority's lookups: store_reader.h). db/sqlite_store.h implements it; start there for SQL.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/ca_generation_records.h"
#include "db/records.h"
#include "db/store_reader.h"
#include "db/tidy_records.h"

namespace db {

// The contract every backend honours: the comments below are the specification, and
// tests/db/ runs the same cases against each implementation (tests/db/backend.h).
// Thread-safe: any thread may call any method at any time. Every write is durable when it
// returns success, and a failed write leaves nothing behind. Every value is bound as a
// parameter, never spliced into a query. The two-phase issuance writes (Reserve, Complete,
// RecordEvent) may also be run in groups by a backend's group-commit writer (SQLite:
// db::Writer), which must give each operation the same result as the one-shot method here.
//
// `provisiond serve` calls PendingIntents() after opening the store and logs how many issuances
// were interrupted between their two phases (`pending_intents`); `provisiond list --pending`
// lists them.
// The read-only lookups the daemon's authority makes (CertificateStatus, IsBootstrapDenied,
// FindBySerial) are declared, with their contract, in StoreReader (store_reader.h).
class Store : public StoreReader {
 public:
  ~Store() override = default;

  // Inserts one event row (its own transaction), chained like every event (VerifyAuditChain).
  virtual Result<void> RecordEvent(const EventRecord& event) = 0;

  // Two-phase issuance ("order, then finalize"), the only way a certificate row is written (the
  // daemon submits both phases through the backend's group-commit writer, SQLite's db::Writer).
  // An intent's states:
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
  // Reserve decides and, when allowed, inserts `intent` as 'pending' in ONE transaction that the
  // database serializes against every write that could change its decision, from the first check
  // to the insert, across every process on the same database (SQLite: BEGIN IMMEDIATE takes the
  // write lock): two Reserves never decide on the same state. Checks, in order:
  //   0a. device_id has an active block (BlockDeviceRecorded)          -> kDeviceBlocked
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
  //   4r. ... unless the device has a re-bootstrap grant (`grant-rebootstrap`) and a kind='enroll'
  //      certificate of this device_id was obtained with this auth_cert_fingerprint (the device's
  //      own bootstrap certificate; else the refusal of 4 stands). Then its newest grant decides:
  //      spent -> kRebootstrapGrantSpent; expires_at <= intent.created_at -> kRebootstrapGrantExpired;
  //      public_key_sha256 in a certificate or pending intent of this device_id ("new" means never
  //      certified for this device) -> kRebootstrapKeyNotNew; else the grant is spent (spent_at =
  //      created_at, spent_serial = serial_hex) by a conditional UPDATE ... WHERE spent_at IS NULL
  //      AND expires_at > created_at, with its "rebootstrap_spent" state event, in this same
  //      transaction, and Reserve goes on to 5. A failure after that rolls the spending back too.
  //   5. serial_hex already in certificates or intents                 -> error kDuplicateSerial
  //   6. insert, and append its "intent" state event (serial, SHA-256 of tbs) to the audit chain
  //                                                                    -> kReserved
  // Only kReserved writes anything. kConstraint when the schema refuses a value (empty tbs, ...).
  virtual Result<IssueOutcome> Reserve(const Intent& intent, const IssuancePolicy& policy) = 0;

  // Phase two, in ONE transaction: the intent with cert.serial_hex must exist, be 'pending' and
  // not revoked, and cert must match it (device_id, kind, public_key_sha256,
  // auth_cert_fingerprint, not_after, profile), else kConstraint naming which. Then inserts the
  // certificate and its chained "issued" event and marks the intent
  // 'issued'. If the intent spent a re-bootstrap grant with revoke_previous, the same transaction
  // first revokes every other unrevoked certificate and pending intent of the device (reason 4,
  // superseded, revoked_at = cert.issued_at, a "revoked" state event each): never before the new
  // certificate is committed. Success: committed and durable. On any error nothing was written.
  virtual Result<void> Complete(const CertificateRecord& cert, const EventRecord& issued_event) = 0;

  // Every pending intent (revoked or not), oldest first: for the start-up report and operators.
  virtual Result<std::vector<Intent>> PendingIntents() = 0;

  // What `provisiond grant-rebootstrap` writes. Records a re-bootstrap grant (grant.id, spent_at
  // and spent_serial are ignored) with its "rebootstrap_granted" state event, then the operator's
  // admin event, which `admin_event` builds from the stored grant (its id; an empty function: no
  // admin event), all in ONE transaction: if the event's insert fails, no grant is written.
  // Returns the grant with its id; nullopt (nothing written) if the device already has an open
  // grant (unspent, expires_at > granted_at). kConstraint for an empty device id or reason, a bad
  // time, or expires_at <= granted_at.
  virtual Result<std::optional<RebootstrapGrant>> GrantRebootstrapRecorded(
      const RebootstrapGrant& grant,
      const std::function<EventRecord(const RebootstrapGrant& stored)>& admin_event) = 0;
  // Every grant, oldest first (spent and expired ones included).
  virtual Result<std::vector<RebootstrapGrant>> ListGrants() = 0;

  // Sets revoked_at (ISO 8601 UTC, passed in) and revocation_reason (RFC 5280 CRLReason: 0..10,
  // not 7) on the matching rows not already revoked: certificates and pending intents (whose
  // serials then go on the CRL and which Complete then refuses). Returns how many rows changed,
  // both tables together: 0 if the serial / device is unknown or already revoked. kConstraint for
  // a bad reason or time. Each row revoked gets a "revoked" state event in the audit chain, in the
  // same transaction. serial_hex must be canonical (ca::NormalizeSerialHex).
  virtual Result<int> RevokeSerial(std::string_view serial_hex, int reason,
                                   std::string_view revoked_at) = 0;
  virtual Result<int> RevokeDevice(std::string_view device_id, int reason,
                                   std::string_view revoked_at) = 0;
  // What `provisiond revoke` writes: RevokeSerial (kSerial, `key` the serial) or RevokeDevice
  // (kDevice, `key` the device id), then the operator's admin event, which `admin_event` builds
  // from the number of rows changed, chained after the rows' state events, all in ONE
  // transaction (one commit, one sync): if any part fails (the event's insert included),
  // nothing of it is written.
  enum class RevokeBy { kSerial, kDevice };
  virtual Result<int> RevokeRecorded(
      RevokeBy by, std::string_view key, int reason, std::string_view revoked_at,
      const std::function<EventRecord(int changed)>& admin_event) = 0;

  // The *Recorded forms are what `provisiond deny-bootstrap | block | unblock` write: the change
  // below, then the operator's `admin_event`, in the SAME transaction (one commit): if any part
  // fails (the event's insert included), nothing of it is written. Block / Unblock returning
  // false write nothing, the event neither.
  //
  // Adds one denylist row. kConstraint unless fingerprint (64 lowercase hex) or issuer + serial
  // (lowercase hex) is set, or if added_at is not ISO 8601 UTC. The row and its "denylisted" state
  // event are written in one transaction. entry.serial_hex must be canonical.
  virtual Result<void> DenyBootstrapRecorded(const DenyEntry& entry,
                                             const EventRecord& admin_event) = 0;

  // Blocks every future issuance to device_id (Reserve answers kDeviceBlocked) until
  // UnblockDeviceRecorded; the row and its "blocked" state event. false (nothing written) if the
  // device is already blocked. kConstraint for an empty device_id or a bad time.
  virtual Result<bool> BlockDeviceRecorded(std::string_view device_id, std::string_view reason,
                                           std::string_view blocked_at,
                                           const EventRecord& admin_event) = 0;
  // Lifts the device's active block (lifted_at, lift_reason) with an "unblocked" state event.
  // false (nothing written) if it has none.
  virtual Result<bool> UnblockDeviceRecorded(std::string_view device_id, std::string_view reason,
                                             std::string_view lifted_at,
                                             const EventRecord& admin_event) = 0;
  // true if device_id has an active block. On the handshake path: one indexed probe, never a scan.
  virtual Result<bool> IsDeviceBlocked(std::string_view device_id) = 0;
  // Every block, oldest first; active_only: only those not lifted.
  virtual Result<std::vector<DeviceBlock>> ListBlocks(bool active_only) = 0;
  // Every denylist row, oldest first.
  virtual Result<std::vector<DenyEntry>> ListDenied() = 0;

  // Certificates for the CRL: revoked_at set and not_after > now_iso (ISO 8601 UTC), soonest
  // expiry first (then certificates before intents, then by id). Revoked pending intents are
  // included as records carrying what is known of them (serial_hex, device_id, kind, not_after,
  // public_key_sha256, auth_cert_*, peer, revoked_at, revocation_reason; der, subject, san,
  // not_before, fingerprint_sha256 and issued_at are empty, and ca_gen is 0: an intent does not
  // record the generation whose key may have signed it, so every generation's CRL lists it).
  virtual Result<std::vector<CertificateRecord>> RevokedUnexpired(std::string_view now_iso) = 0;
  // Increments the stored CRL number and returns the new value (1 for the first CRL), in its own
  // transaction: two callers never get the same number, and it survives restarts.
  virtual Result<int64_t> NextCrlNumber() = 0;
  // How many certificates and intents have ever been revoked (expired ones included). A revocation
  // by any process on this store raises it and nothing lowers it, so the CRL service polls it to
  // learn that its CRL is stale (daemon/crl_service.h). Reads the revoked rows' partial indexes:
  // O(revoked rows), a few ms for 100,000.
  virtual Result<int64_t> RevocationCount() = 0;

  // Certificates matching every filter set, in issuance (id) order, at most filter.limit.
  virtual Result<std::vector<CertificateRecord>> ListCertificates(const ListFilter& filter) = 0;

  // Recomputes the enrollment_events hash chain over all rows, in one consistent snapshot (the
  // encoding every backend must hash alike is written down in db/audit.h). Detects an edited row
  // (first_bad_id = that row) and a deleted row that had a successor (first_bad_id = the
  // successor). Limits: deleting the NEWEST rows leaves a valid shorter chain, and the hash is
  // unkeyed, so someone who can write the file can rewrite the whole chain; both are only
  // detectable by comparing head_hash with a value recorded outside the database. Rows migrated
  // from schema version 1 are vouched for only from the migration on. A failed check is a report
  // with ok=false, not an error. Then cross-checks the state tables against the chain's state
  // events (db/audit_state.h): a revocation (certificate or intent), denylist row, block or lift,
  // or intent (serial + SHA-256 of its TBS) that differs from what the chain recorded, or that the
  // chain lacks, or a state event whose row is gone or changed: ok=false, the problem naming the
  // row (and first_bad_id the event, when there is one).
  virtual Result<AuditReport> VerifyAuditChain() = 0;
  // The chain from an audit checkpoint on (db/audit.h VerifyEventChainFrom): row `id` must exist
  // with row_hash `row_hash` (what the checkpoint recorded) and hash correctly with its link (the
  // row below it, or the chain's base once tidy removed that row; with neither, rows below it
  // were deleted outside tidy: ok=false), and every later row must link to it with consecutive
  // ids; the base, then one statement over the rows (`WHERE id >= $1`, $1 = `id` - 1, the primary
  // key's range; both read again once if the link is missing, for a tidy that cut the chain
  // between them). Reads only rows with id >= `id` - 1: its cost is theirs, not the store's. The state tables are not cross-checked (that needs every state event:
  // VerifyAuditChain). On PostgreSQL the walk is bounded by the store's statement timeout. A
  // failed check is a report with ok=false, not an error; head_hash is the newest row's, and when
  // ok the newest row's id is id + rows_checked - 1. kInternal for id < 1.
  virtual Result<AuditReport> VerifyAuditChainFrom(int64_t id, std::string_view row_hash) = 0;

  // Every certificate of this device, in issuance order.
  virtual Result<std::vector<CertificateRecord>> FindByDevice(std::string_view device_id) = 0;
  // The newest `limit` events (state events included), newest first, by commit order rather than
  // by their time; <= 0 returns none.
  virtual Result<std::vector<EventRecord>> RecentEvents(int limit) = 0;
  // How many certificates there are (revoked ones included; pending intents are not).
  virtual Result<int64_t> CountCertificates() = 0;

  // Factory manifests (#19 part 2). Imports one batch in ONE write transaction: if a batch with
  // this name exists with exactly these rows (as a set), kUnchanged and nothing is written (the
  // file's hash may differ: a re-ordered or re-cased file lists the same devices); if it exists
  // with other rows, kConflict listing the new file's rows it lacks and its rows the file lacks.
  // A new batch is refused (kConflict) for every row whose device id or fingerprint is already in
  // another batch, whatever it is paired with there: a device belongs to one batch, so the
  // report's counts add up (UNIQUE indexes hold it across connections and replicas). Otherwise
  // the batch, its rows and a "manifest_imported" state event (batch, file_sha256, rows,
  // rows_sha256, imported_at: db/manifest_state.h) are written together. kConstraint for an empty
  // batch name or rows, a fingerprint that is not 64 lowercase hex, or a bad time.
  virtual Result<ManifestImportResult> ImportManifest(const ManifestImport& import) = 0;
  // The counts of each batch (only `batch` when not empty; none if it does not exist), by name,
  // and the unknown-certificate attempts (manifest_records.h says what each count means).
  virtual Result<ManifestReport> ReportManifests(std::string_view batch) = 0;

  // CA generations (#19 part 3; the states in ca_generation_records.h, SQL in
  // sql_ca_generations.cc). Every generation, by number, with its DER.
  virtual Result<std::vector<CaGeneration>> ListCaGenerations() = 0;
  // `ca rollover`: in ONE write transaction, records `first` (generation 1, the CA init made, as
  // active) if the table is empty, then inserts `next` as pending, each with its "ca_rollover"
  // state event (and generation 1's "ca_activated"). Refused, nothing written: kPendingExists,
  // kPreviousExists, kGenTaken (next.gen is not one more than the newest). kConstraint for a bad
  // row (hash, times, an empty certificate).
  virtual Result<CaChange> AddCaGeneration(const CaGeneration& first, const CaGeneration& next) = 0;
  // `ca activate`: the pending generation becomes active and the active one previous, by
  // conditional UPDATEs in one transaction with a "ca_activated" state event; *gen is the new
  // active generation. kNothingPending when none is pending (two racing activations: one kDone).
  virtual Result<CaChange> ActivateCaGeneration(std::string_view at, int64_t* gen) = 0;
  // `ca retire`: the previous generation becomes retired ("ca_retired" state event); *gen is it.
  // kNothingToRetire when none is previous.
  virtual Result<CaChange> RetireCaGeneration(std::string_view at, int64_t* gen) = 0;
  // A device that authenticated with an operational certificate fetched /cacerts holding
  // generation `gen`: one row per device and generation (INSERT ... ON CONFLICT DO NOTHING; a
  // second fetch writes nothing). Not in the audit chain: it is evidence for `ca status`, not state.
  virtual Result<void> RecordCacertsFetch(std::string_view device_id, int64_t gen,
                                          std::string_view at) = 0;
  // Whether RecordCacertsFetch was recorded for this device and generation (primary key probe).
  virtual Result<bool> CacertsFetched(std::string_view device_id, int64_t gen) = 0;
  // The counts of every generation (CaStatusReport) as of now_iso.
  virtual Result<CaStatusReport> CaStatus(std::string_view now_iso) = 0;
  // Retention (#19 part 5, `provisiond tidy`: daemon/admin_tidy.h; db/sql_tidy.cc). Each write
  // is one short transaction, so a serving daemon's enrollments go on between them.
  // Records that a CRL was built leaving out entries whose not_after is before dropped_before
  // (its thisUpdate - keep_after_expiry); the stored bound only rises. CrlDroppedBefore: that
  // bound, nullopt before the first CRL.
  virtual Result<void> NoteCrlBuilt(std::string_view dropped_before) = 0;
  virtual Result<std::optional<std::string>> CrlDroppedBefore() = 0;
  // At most `limit` certificates (each) that RemoveCertificates would remove now under `bounds`,
  // soonest expiry first; pending intents likewise (PendingIntents' fields).
  virtual Result<std::vector<CertificateRecord>> TidyCertificates(const TidyBounds& bounds,
                                                                  int limit) = 0;
  virtual Result<std::vector<Intent>> TidyIntents(const TidyBounds& bounds, int limit) = 0;
  // In ONE transaction, removes each listed certificate (or pending intent) that still falls
  // under `bounds` (checked again in the DELETE: one revoked since, or unexpired, stays): a
  // kind='enroll' one leaves an enroll_tombstones row, which Reserve counts as the enrollment it
  // was, with a "tombstoned" state event; any other a "tidied" state event (db/audit_tidy.h).
  // Returns how many rows went.
  virtual Result<int> RemoveCertificates(const std::vector<std::string>& serials,
                                         const TidyBounds& bounds) = 0;
  virtual Result<int> RemoveIntents(const std::vector<std::string>& serials,
                                    const TidyBounds& bounds) = 0;
  // Where the chain starts (tidy_records.h ChainBase).
  virtual Result<ChainBase> AuditChainBase() = 0;
  // The id below which the events before `events_before` lie: the first row from the chain's
  // base on whose time is events_before or later, at most `max_id` (so the row a checkpoint
  // names is kept). Reads the rows below it, in id order.
  virtual Result<int64_t> ChainCut(std::string_view events_before, int64_t max_id) = 0;
  // At most `limit` chain rows with from_id <= id < before_id, in id order; each prev_hash is the
  // row_hash of the row below (the base's for the first row kept; "" if that row is gone).
  virtual Result<std::vector<ChainRow>> ChainRows(int64_t from_id, int64_t before_id,
                                                  int limit) = 0;
  // Before a truncation at cut_id: appends again, in transactions of at most `batch` events, each
  // state event below cut_id that records state still in the tables and that no event from
  // cut_id on records (a copy: outcome and reason as they were, peer "tidy"), so VerifyAuditChain
  // holds at every moment. Returns how many it appended.
  virtual Result<int64_t> CarryLiveState(int64_t cut_id, int batch) = 0;
  // Deletes the oldest chain rows below cut_id, at most `limit` in this transaction, and moves the
  // chain's base to the first row left (checkpoint: the signed checkpoint of row cut_id - 1,
  // stored as is). kConstraint when no row at or above cut_id exists. Returns how many went.
  virtual Result<int> TruncateChain(int64_t cut_id, std::string_view checkpoint, int limit) = 0;
  // One tidy at a time per store (db/tidy_lock.cc says why and how): the lock is held until the
  // TidyLock is destroyed or its process ends, whichever is first.
  class TidyLock {
   public:
    virtual ~TidyLock() = default;
    // Ok while the lock is still this tidy's; kBusy once it was lost (PostgreSQL: the session
    // holding it ended), kIo if that cannot be checked. Tidy asks before each of its writes.
    virtual Result<void> Held() = 0;
  };
  // Takes the store's tidy lock without waiting: kBusy (nothing taken) if another tidy, in this
  // process or any other (on PostgreSQL: on any host), holds it.
  virtual Result<std::unique_ptr<TidyLock>> TryLockTidy() = 0;

 protected:
  Store() = default;
};

}  // namespace db
