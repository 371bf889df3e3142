// pg_store.h — db::PgStore, the PostgreSQL implementation of db::Store (libpq): one shared
// database for many provisiond replicas, every invariant enforced by the database itself.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "db/records.h"
#include "db/store.h"

namespace db {

class PgConn;
class PgWriter;

// How each invariant holds across connections (and so across replicas) is written down in
// db/pg_schema.cc (audit_head) and docs/architecture.md. The mutex below only serializes this
// object's use of its one libpq connection (libpq connections are not thread-safe); no decision
// depends on it.
class PgStore final : public Store {
 public:
  // Connects (libpq conninfo or URI) and checks the schema: kSchema, with one line naming both
  // versions, unless the database is at kPgSchemaVersion (an empty database: run Migrate). kIo if
  // the server cannot be reached. Never logs or returns the conninfo.
  static Result<std::unique_ptr<PgStore>> Open(const std::string& conninfo);
  // `provisiond migrate`: creates or upgrades the schema to kPgSchemaVersion. Idempotent; safe to
  // run from several replicas at once. kSchema if the database is newer than this program.
  static Result<void> Migrate(const std::string& conninfo);
  // The schema version Open accepts and Migrate makes (kPgSchemaVersion, db/pg_schema.h).
  static int SchemaVersion();
  ~PgStore() override;

  Result<void> RecordEvent(const EventRecord& event) override;
  Result<IssueOutcome> Reserve(const Intent& intent, const IssuancePolicy& policy) override;
  Result<void> Complete(const CertificateRecord& cert, const EventRecord& issued_event) override;
  Result<std::vector<Intent>> PendingIntents() override;
  Result<CertStatus> CertificateStatus(std::string_view serial_hex) override;
  Result<int> RevokeSerial(std::string_view serial_hex, int reason,
                           std::string_view revoked_at) override;
  Result<int> RevokeDevice(std::string_view device_id, int reason,
                           std::string_view revoked_at) override;
  Result<void> DenyBootstrap(const DenyEntry& entry) override;
  Result<bool> BlockDevice(std::string_view device_id, std::string_view reason,
                           std::string_view blocked_at) override;
  Result<bool> UnblockDevice(std::string_view device_id, std::string_view reason,
                             std::string_view lifted_at) override;
  Result<bool> IsDeviceBlocked(std::string_view device_id) override;
  Result<std::vector<DeviceBlock>> ListBlocks(bool active_only) override;
  Result<bool> IsBootstrapDenied(std::string_view fingerprint, std::string_view issuer,
                                 std::string_view serial_hex) override;
  Result<std::vector<DenyEntry>> ListDenied() override;
  Result<std::vector<CertificateRecord>> RevokedUnexpired(std::string_view now_iso) override;
  Result<int64_t> NextCrlNumber() override;
  Result<std::vector<CertificateRecord>> ListCertificates(const ListFilter& filter) override;
  // One REPEATABLE READ, READ ONLY transaction: the chain and the state tables in one snapshot.
  Result<AuditReport> VerifyAuditChain() override;
  Result<std::optional<CertificateRecord>> FindBySerial(std::string_view serial_hex) override;
  Result<std::vector<CertificateRecord>> FindByDevice(std::string_view device_id) override;
  Result<std::vector<EventRecord>> RecentEvents(int limit) override;
  Result<int64_t> CountCertificates() override;

 private:
  friend class PgWriter;  // opens its own connection with conninfo_
  PgStore(std::string conninfo, std::unique_ptr<PgConn> db);
  const std::string conninfo_;
  std::mutex mu_;  // held for every use of db_
  std::unique_ptr<PgConn> db_;
};

}  // namespace db
