// sql_store_blocks.cc — device blocks (an operator's refusal of every issuance to one device id)
// and the status checks Reserve runs inside its transaction, once for both engines: the device's
// block, the authenticating certificate's revocation and the bootstrap denylist.
#include <string>

#include "db/audit_state.h"
#include "db/sql_store.h"

namespace db {
namespace {

// device_blocks_active: a unique partial index on device_id WHERE lifted_at IS NULL.
constexpr const char* kIsBlocked =
    "SELECT EXISTS (SELECT 1 FROM device_blocks WHERE device_id = $1 AND lifted_at IS NULL)";
constexpr const char* kInsertBlock =
    "INSERT INTO device_blocks (device_id, reason, blocked_at) VALUES ($1, $2, $3) RETURNING id";
constexpr const char* kLiftBlock =
    "UPDATE device_blocks SET lifted_at = $2, lift_reason = $3 "
    "WHERE device_id = $1 AND lifted_at IS NULL RETURNING id, reason, blocked_at";
constexpr const char* kSelectBlocks =
    "SELECT id, device_id, reason, blocked_at, lifted_at, lift_reason FROM device_blocks "
    "ORDER BY id";
constexpr const char* kSelectActiveBlocks =
    "SELECT id, device_id, reason, blocked_at, lifted_at, lift_reason FROM device_blocks "
    "WHERE lifted_at IS NULL ORDER BY id";
// certificates.serial is UNIQUE; the fingerprint must match too, so the row is the very
// certificate the device presented.
constexpr const char* kAuthCertActive =
    "SELECT EXISTS (SELECT 1 FROM certificates WHERE serial = $1 AND fingerprint_sha256 = $2 "
    "AND revoked_at IS NULL)";

}  // namespace

Result<std::optional<Decision>> StatusRefusal(SqlSession& db, const Intent& intent) {
  auto blocked = SelectTruth(db, kIsBlocked, SqlParams().Text(intent.device_id));
  if (!blocked) return std::unexpected(blocked.error());
  if (*blocked) return Decision::kDeviceBlocked;
  if (intent.kind == "reenroll") {
    auto active =
        SelectTruth(db, kAuthCertActive,
                    SqlParams().Text(intent.auth_cert_serial).Sha256(intent.auth_cert_fingerprint));
    if (!active) return std::unexpected(active.error());
    if (!*active) return Decision::kAuthRevoked;
    return std::optional<Decision>();
  }
  auto denied = BootstrapDenied(db, intent.auth_cert_fingerprint, intent.auth_cert_issuer,
                                intent.auth_cert_serial);
  if (!denied) return std::unexpected(denied.error());
  if (*denied) return Decision::kAuthDenylisted;
  return std::optional<Decision>();
}

Result<bool> SqlStore::BlockDeviceRecorded(std::string_view device_id, std::string_view reason,
                                           std::string_view blocked_at,
                                           const EventRecord& admin_event) {
  if (device_id.empty()) return base::Fail(Code::kConstraint, "BlockDevice: empty device id");
  return Use<bool>([&](SqlSession& db) -> Result<bool> {
    bool blocked = false;
    auto done = db.InWrite([&]() -> Result<void> {
      auto already = SelectTruth(db, kIsBlocked, SqlParams().Text(device_id));
      if (!already) return std::unexpected(already.error());
      if (*already) return {};
      auto id =
          SelectInt(db, kInsertBlock, SqlParams().Text(device_id).Text(reason).Text(blocked_at));
      if (!id) return std::unexpected(id.error());
      if (!*id) return base::Fail(Code::kInternal, "BlockDevice: INSERT returned no id");
      DeviceBlock block{.id = **id,
                        .device_id = std::string(device_id),
                        .reason = std::string(reason),
                        .blocked_at = std::string(blocked_at)};
      blocked = true;
      if (auto r = db.AppendEvent(BlockedStateEvent(block), ""); !r) return r;
      return RecordEventInTxn(db, admin_event);
    });
    if (!done) return std::unexpected(done.error());
    return blocked;
  });
}

Result<bool> SqlStore::UnblockDeviceRecorded(std::string_view device_id, std::string_view reason,
                                             std::string_view lifted_at,
                                             const EventRecord& admin_event) {
  return Use<bool>([&](SqlSession& db) -> Result<bool> {
    std::optional<DeviceBlock> lifted;
    auto done = db.InWrite([&]() -> Result<void> {
      // The unique partial index allows at most one active block, so at most one row.
      auto ran = db.Query(kLiftBlock, SqlParams().Text(device_id).Text(lifted_at).Text(reason),
                          [&](const RowView& row) {
                            lifted = DeviceBlock{.id = row.Int(0),
                                                 .device_id = std::string(device_id),
                                                 .reason = row.Text(1),
                                                 .blocked_at = row.Text(2),
                                                 .lifted_at = std::string(lifted_at),
                                                 .lift_reason = std::string(reason)};
                          });
      if (!ran || !lifted) return ran;
      if (auto r = db.AppendEvent(UnblockedStateEvent(*lifted), ""); !r) return r;
      return RecordEventInTxn(db, admin_event);
    });
    if (!done) return std::unexpected(done.error());
    return lifted.has_value();
  });
}

Result<bool> SqlStore::IsDeviceBlocked(std::string_view device_id) {
  return Use<bool>(
      [&](SqlSession& db) { return SelectTruth(db, kIsBlocked, SqlParams().Text(device_id)); });
}

Result<std::vector<DeviceBlock>> SqlStore::ListBlocks(bool active_only) {
  using Blocks = std::vector<DeviceBlock>;
  return Use<Blocks>([&](SqlSession& db) -> Result<Blocks> {
    Blocks blocks;
    auto done =
        db.Query(active_only ? kSelectActiveBlocks : kSelectBlocks, {}, [&](const RowView& row) {
          DeviceBlock block{.id = row.Int(0),
                            .device_id = row.Text(1),
                            .reason = row.Text(2),
                            .blocked_at = row.Text(3)};
          if (!row.IsNull(4)) block.lifted_at = row.Text(4);
          if (!row.IsNull(5)) block.lift_reason = row.Text(5);
          blocks.push_back(std::move(block));
        });
    if (!done) return std::unexpected(done.error());
    return blocks;
  });
}

}  // namespace db
