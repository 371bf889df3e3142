// tidy_records.h — what retention (`provisiond tidy`, #19 part 5) exchanges with the store: the
// bounds of a tidy, the truncated audit chain's base, archived chain rows and their check.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/records.h"

namespace db {

// Which rows a tidy removes (Store::RemoveCertificates / RemoveIntents). Times ISO 8601 UTC.
struct TidyBounds {
  // An unrevoked certificate, or pending intent, whose not_after is before this.
  std::string expired_before;
  // A revoked one whose not_after is before this: the earlier of expired_before and the store's
  // CRL bound (Store::CrlDroppedBefore); "" (no CRL built yet) removes no revoked row.
  std::string revoked_before;
  // The time written into the "tidied" / "tombstoned" state events.
  std::string tidied_at;
};

// Where the audit chain starts. Before any truncation: first_id 1, the genesis prev_hash and no
// checkpoint. After one: the first remaining row's id, its prev_hash (the row_hash of the
// removed row below it) and the audit checkpoint of that removed row signed with the CA key
// (ca/audit_checkpoint.h); `audit verify` checks the signature against ca.crt.
struct ChainBase {
  int64_t first_id = 1;
  std::string prev_hash;
  std::string checkpoint;  // "" before any truncation
};

// One enrollment_events row with its chain columns, as archived.
struct ChainRow {
  int64_t id = 0;
  EventRecord event;                  // serial_hex unused: see serial
  std::optional<std::string> serial;  // the column as stored (NULL: nullopt)
  std::string prev_hash;
  std::string row_hash;
};

// Checks archived chain rows: consecutive ids from base.first_id, the first linked to
// base.prev_hash, each row's hash recomputed (db/audit.h) and each prev_hash the row_hash before
// it. ok=false with the row and the problem otherwise; head_hash is the last row's row_hash.
AuditReport VerifyArchivedChain(const std::vector<ChainRow>& rows, const ChainBase& base);

}  // namespace db
