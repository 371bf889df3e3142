// sql_store.h — db::SqlStore: the Store methods whose SQL both engines share (the issuance writes,
// revocation, the denylist, device blocks, the CRL's rows and number, listings and lookups),
// written once over a SqlSession; SqliteStore and PgStore derive from it and add what differs
// between the engines (opening, the schema, the audit check).
// Private to db/.
#pragma once

#include <functional>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "db/records.h"
#include "db/sql_session.h"
#include "db/store.h"

namespace db {

class SqlStore : public Store {
 public:
  Result<void> RecordEvent(const EventRecord& event) override;
  // A refusal commits an empty transaction: nothing was written either way.
  Result<IssueOutcome> Reserve(const Intent& intent, const IssuancePolicy& policy) override;
  Result<void> Complete(const CertificateRecord& cert, const EventRecord& issued_event) override;
  Result<std::vector<Intent>> PendingIntents() override;
  Result<std::optional<RebootstrapGrant>> GrantRebootstrapRecorded(
      const RebootstrapGrant& grant,
      const std::function<EventRecord(const RebootstrapGrant&)>& admin_event) override;
  Result<std::vector<RebootstrapGrant>> ListGrants() override;
  Result<CertStatus> CertificateStatus(std::string_view serial_hex) override;
  Result<int> RevokeSerial(std::string_view serial_hex, int reason,
                           std::string_view revoked_at) override;
  Result<int> RevokeDevice(std::string_view device_id, int reason,
                           std::string_view revoked_at) override;
  Result<int> RevokeRecorded(RevokeBy by, std::string_view key, int reason,
                             std::string_view revoked_at,
                             const std::function<EventRecord(int changed)>& admin_event) override;
  Result<void> DenyBootstrapRecorded(const DenyEntry& entry,
                                     const EventRecord& admin_event) override;
  Result<bool> BlockDeviceRecorded(std::string_view device_id, std::string_view reason,
                                   std::string_view blocked_at,
                                   const EventRecord& admin_event) override;
  Result<bool> UnblockDeviceRecorded(std::string_view device_id, std::string_view reason,
                                     std::string_view lifted_at,
                                     const EventRecord& admin_event) override;
  Result<bool> IsDeviceBlocked(std::string_view device_id) override;
  Result<std::vector<DeviceBlock>> ListBlocks(bool active_only) override;
  Result<bool> IsBootstrapDenied(std::string_view fingerprint, std::string_view issuer,
                                 std::string_view serial_hex) override;
  Result<std::vector<DenyEntry>> ListDenied() override;
  Result<std::vector<CertificateRecord>> RevokedUnexpired(std::string_view now_iso) override;
  Result<int64_t> NextCrlNumber() override;
  Result<int64_t> RevocationCount() override;
  Result<std::vector<CertificateRecord>> ListCertificates(const ListFilter& filter) override;
  Result<std::optional<CertificateRecord>> FindBySerial(std::string_view serial_hex) override;
  Result<std::vector<CertificateRecord>> FindByDevice(std::string_view device_id) override;
  Result<std::vector<EventRecord>> RecentEvents(int limit) override;
  Result<int64_t> CountCertificates() override;
  // The walk from an audit checkpoint: audit_from.cc.
  Result<AuditReport> VerifyAuditChainFrom(int64_t id, std::string_view row_hash) override;
  // Factory manifests: sql_manifest.cc.
  Result<std::optional<ManifestEntry>> FindInManifest(std::string_view bootstrap_sha256) override;
  Result<ManifestImportResult> ImportManifest(const ManifestImport& import) override;
  Result<ManifestReport> ReportManifests(std::string_view batch) override;
  // CA generations: sql_ca_generations.cc.
  Result<std::vector<CaGeneration>> ListCaGenerations() override;
  Result<CaChange> AddCaGeneration(const CaGeneration& first, const CaGeneration& next) override;
  Result<CaChange> ActivateCaGeneration(std::string_view at, int64_t* gen) override;
  Result<CaChange> RetireCaGeneration(std::string_view at, int64_t* gen) override;
  Result<void> RecordCacertsFetch(std::string_view device_id, int64_t gen,
                                  std::string_view at) override;
  Result<bool> CacertsFetched(std::string_view device_id, int64_t gen) override;
  Result<CaStatusReport> CaStatus(std::string_view now_iso) override;
  // Retention: sql_tidy.cc.
  Result<void> NoteCrlBuilt(std::string_view dropped_before) override;
  Result<std::optional<std::string>> CrlDroppedBefore() override;
  Result<std::vector<CertificateRecord>> TidyCertificates(const TidyBounds& bounds,
                                                          int limit) override;
  Result<std::vector<Intent>> TidyIntents(const TidyBounds& bounds, int limit) override;
  Result<int> RemoveCertificates(const std::vector<std::string>& serials,
                                 const TidyBounds& bounds) override;
  Result<int> RemoveIntents(const std::vector<std::string>& serials,
                            const TidyBounds& bounds) override;
  Result<ChainBase> AuditChainBase() override;
  Result<int64_t> ChainCut(std::string_view events_before, int64_t max_id) override;
  Result<std::vector<ChainRow>> ChainRows(int64_t from_id, int64_t before_id, int limit) override;
  Result<int64_t> CarryLiveState(int64_t cut_id, int batch) override;
  Result<int> TruncateChain(int64_t cut_id, std::string_view checkpoint, int limit) override;

 protected:
  // Calls `body` with a session on the store's own connection, holding that connection's lock.
  virtual Result<void> WithSession(const std::function<Result<void>(SqlSession&)>& body) = 0;
  // The same for tidy's deletions of certificates (SQLite: with foreign keys off).
  virtual Result<void> WithTidySession(const std::function<Result<void>(SqlSession&)>& body) {
    return WithSession(body);
  }

 private:
  // WithSession for a body that returns a value.
  template <typename T, typename Body>
  Result<T> Use(Body&& body) {
    std::optional<T> out;
    auto done = WithSession([&](SqlSession& session) -> Result<void> {
      auto value = body(session);
      if (!value) return std::unexpected(value.error());
      out = std::move(*value);
      return {};
    });
    if (!done) return std::unexpected(done.error());
    return std::move(*out);
  }
};

// The issuance writes (sql_issuance.cc), each inside a write transaction its caller owns (a
// Store's one-shot method wraps each in InWrite; a db::Writer batch runs many in one):
// Store::Reserve's checks in order and the intent's insert (writes only for kReserved).
Result<IssueOutcome> ReserveInTxn(SqlSession& db, const Intent& intent,
                                  const IssuancePolicy& policy);
// Store::Complete's checks, the certificate + event insert and the intent's move to 'issued'.
Result<void> CompleteInTxn(SqlSession& db, const CertificateRecord& cert, const EventRecord& event);
// Store::Complete's comparison: kConstraint naming the first field in which the signed
// certificate differs from its intent.
Result<void> CheckMatchesIntent(const CertificateRecord& cert, const Intent& intent);
// Store::RecordEvent's body.
Result<void> RecordEventInTxn(SqlSession& db, const EventRecord& event);
// Every pending intent, oldest first.
Result<std::vector<Intent>> SelectPendingIntents(SqlSession& db);

// A RecordCacertsFetch row inside the caller's write transaction (db::Writer's batches).
Result<void> RecordCacertsFetchInTxn(SqlSession& db, std::string_view device_id, int64_t gen,
                                     std::string_view at);

// Re-bootstrap grants (sql_rebootstrap.cc), inside the caller's write transaction. Reserve's
// check 4r (store.h): `quota_refusal` (kBootstrapExhausted or kDeviceEnrolled) when the device has
// no grant or this is not its own bootstrap certificate, a kRebootstrap* refusal, or nullopt when
// the grant was spent on this intent (go on and insert it).
Result<std::optional<Decision>> RebootstrapInTxn(SqlSession& db, const Intent& intent,
                                                 Decision quota_refusal);
// Complete's revoke-previous: if `cert`'s intent spent a grant with revoke_previous, revokes the
// device's other unrevoked certificates and pending intents (superseded), one state event each.
Result<void> RevokePreviousInTxn(SqlSession& db, const CertificateRecord& cert);

// Checks 0a-0c of Store::Reserve (store.h), inside the caller's write transaction:
// kDeviceBlocked, kAuthRevoked (kind "reenroll"), kAuthDenylisted (kind "enroll"); nullopt when
// none applies. Both engines' Reserve run it.
Result<std::optional<Decision>> StatusRefusal(SqlSession& db, const Intent& intent);
// Store::IsBootstrapDenied's query, on the caller's session.
Result<bool> BootstrapDenied(SqlSession& db, std::string_view fingerprint, std::string_view issuer,
                             std::string_view serial_hex);

// The first column of a query's first row: an integer (nullopt: no row), or a boolean (false: no
// row).
Result<std::optional<int64_t>> SelectInt(SqlSession& db, const char* sql, const SqlParams& params);
Result<bool> SelectTruth(SqlSession& db, const char* sql, const SqlParams& params);

}  // namespace db
