// blocks.cc — device blocks (schema version 4: an operator's refusal of every issuance to one
// device id) and the status checks Reserve runs inside its transaction: the
// device's block, the authenticating certificate's revocation and the bootstrap denylist.
#include <string>

#include "db/audit.h"
#include "db/audit_state.h"
#include "db/operations.h"
#include "db/sqlite_store.h"
#include "db/statement.h"

namespace db {
namespace {

// device_blocks_active: a unique partial index on device_id WHERE lifted_at IS NULL.
constexpr const char* kIsBlocked =
    "SELECT EXISTS (SELECT 1 FROM device_blocks WHERE device_id = ?1 AND lifted_at IS NULL)";
constexpr const char* kInsertBlock =
    "INSERT INTO device_blocks (device_id, reason, blocked_at) VALUES (?1, ?2, ?3) RETURNING id";
constexpr const char* kLiftBlock =
    "UPDATE device_blocks SET lifted_at = ?2, lift_reason = ?3 "
    "WHERE device_id = ?1 AND lifted_at IS NULL RETURNING id, reason, blocked_at";
constexpr const char* kSelectBlocks =
    "SELECT id, device_id, reason, blocked_at, lifted_at, lift_reason FROM device_blocks "
    "ORDER BY id";
constexpr const char* kSelectActiveBlocks =
    "SELECT id, device_id, reason, blocked_at, lifted_at, lift_reason FROM device_blocks "
    "WHERE lifted_at IS NULL ORDER BY id";
// certificates.serial is UNIQUE; the fingerprint must match too, so the row is the very
// certificate the device presented.
constexpr const char* kAuthCertActive =
    "SELECT EXISTS (SELECT 1 FROM certificates WHERE serial = ?1 AND fingerprint_sha256 = ?2 "
    "AND revoked_at IS NULL)";

Result<bool> QueryBool(Connection& db, const char* sql, std::string_view a, std::string_view b) {
  auto stmt = db.Prepare(sql);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindText(1, a);
  if (!b.empty()) stmt->BindText(2, b);
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  return *row && stmt->Int(0) != 0;
}

// Steps a statement returning one row (RETURNING) to the end; false if it returned none.
template <typename Read>
Result<bool> StepOne(Statement& stmt, Read&& read) {
  auto row = stmt.Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return false;
  read(stmt);
  auto end = stmt.Step();  // so the statement is no longer active at COMMIT
  if (!end) return std::unexpected(end.error());
  return true;
}

}  // namespace

Result<std::optional<Decision>> StatusRefusal(Connection& db, std::string_view kind,
                                              std::string_view device_id,
                                              std::string_view auth_fingerprint,
                                              std::string_view auth_issuer,
                                              std::string_view auth_serial) {
  auto blocked = QueryBool(db, kIsBlocked, device_id, "");
  if (!blocked) return std::unexpected(blocked.error());
  if (*blocked) return Decision::kDeviceBlocked;
  if (kind == "reenroll") {
    auto active = QueryBool(db, kAuthCertActive, auth_serial, auth_fingerprint);
    if (!active) return std::unexpected(active.error());
    if (!*active) return Decision::kAuthRevoked;
    return std::optional<Decision>();
  }
  auto denied = BootstrapDenied(db, auth_fingerprint, auth_issuer, auth_serial);
  if (!denied) return std::unexpected(denied.error());
  if (*denied) return Decision::kAuthDenylisted;
  return std::optional<Decision>();
}

Result<bool> SqliteStore::BlockDevice(std::string_view device_id, std::string_view reason,
                                      std::string_view blocked_at) {
  std::lock_guard lock(mu_);
  if (device_id.empty()) return Fail(Code::kConstraint, "BlockDevice: empty device id");
  bool blocked = false;
  auto done = InWriteTransaction(*db_, [&]() -> Result<void> {
    auto already = QueryBool(*db_, kIsBlocked, device_id, "");
    if (!already) return std::unexpected(already.error());
    if (*already) return {};
    auto insert = db_->Prepare(kInsertBlock);
    if (!insert) return std::unexpected(insert.error());
    insert->BindText(1, device_id);
    insert->BindText(2, reason);
    insert->BindText(3, blocked_at);
    DeviceBlock block{.device_id = std::string(device_id),
                      .reason = std::string(reason),
                      .blocked_at = std::string(blocked_at)};
    auto row = StepOne(*insert, [&](const Statement& s) { block.id = s.Int(0); });
    if (!row) return std::unexpected(row.error());
    if (!*row) return Fail(Code::kInternal, "BlockDevice: INSERT returned no id");
    blocked = true;
    return InsertChainedEvent(*db_, BlockedStateEvent(block), "");
  });
  if (!done) return std::unexpected(done.error());
  return blocked;
}

Result<bool> SqliteStore::UnblockDevice(std::string_view device_id, std::string_view reason,
                                        std::string_view lifted_at) {
  std::lock_guard lock(mu_);
  bool lifted = false;
  auto done = InWriteTransaction(*db_, [&]() -> Result<void> {
    auto update = db_->Prepare(kLiftBlock);
    if (!update) return std::unexpected(update.error());
    update->BindText(1, device_id);
    update->BindText(2, lifted_at);
    update->BindText(3, reason);
    DeviceBlock block{.device_id = std::string(device_id),
                      .lifted_at = std::string(lifted_at),
                      .lift_reason = std::string(reason)};
    auto row = StepOne(*update, [&](const Statement& s) {
      block.id = s.Int(0);
      block.reason = s.Text(1);
      block.blocked_at = s.Text(2);
    });
    if (!row) return std::unexpected(row.error());
    if (!*row) return {};  // the unique partial index allows at most one active block
    lifted = true;
    return InsertChainedEvent(*db_, UnblockedStateEvent(block), "");
  });
  if (!done) return std::unexpected(done.error());
  return lifted;
}

Result<bool> SqliteStore::IsDeviceBlocked(std::string_view device_id) {
  std::lock_guard lock(mu_);
  return QueryBool(*db_, kIsBlocked, device_id, "");
}

Result<std::vector<DeviceBlock>> SqliteStore::ListBlocks(bool active_only) {
  std::lock_guard lock(mu_);
  auto stmt = db_->Prepare(active_only ? kSelectActiveBlocks : kSelectBlocks);
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<DeviceBlock> blocks;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return blocks;
    DeviceBlock block{.id = stmt->Int(0),
                      .device_id = stmt->Text(1),
                      .reason = stmt->Text(2),
                      .blocked_at = stmt->Text(3)};
    if (!stmt->IsNull(4)) block.lifted_at = stmt->Text(4);
    if (!stmt->IsNull(5)) block.lift_reason = stmt->Text(5);
    blocks.push_back(std::move(block));
  }
}

}  // namespace db
