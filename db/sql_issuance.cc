// sql_issuance.cc — the issuance writes, once for both engines, each inside a write transaction
// its caller owns (a Store's one-shot method, or a db::Writer batch): Reserve's checks in order
// and the intent's insert, Complete's checks and the certificate's insert, events, and the
// pending list. The state machine is written down in store.h above Store::Reserve.
#include <string>

#include "ca/encoding.h"
#include "db/audit_state.h"
#include "db/row_read.h"
#include "db/sql_store.h"

namespace db {
namespace {

// Served by certificates_public_key_sha256 / certificates_auth_cert_fingerprint (migration 1) and
// issuance_intents_public_key_sha256 / issuance_intents_auth_cert_fingerprint (migration 3).
constexpr const char* kKeyInOtherDevice =
    "SELECT EXISTS (SELECT 1 FROM certificates WHERE public_key_sha256 = $1 AND device_id <> $2) "
    "OR EXISTS (SELECT 1 FROM issuance_intents WHERE public_key_sha256 = $1 AND device_id <> $2 "
    "AND status = 'pending')";
constexpr const char* kSameKeyEnrollment = PROVISIOND_CERT_SELECT
    "WHERE auth_cert_fingerprint = $1 AND kind = 'enroll' AND public_key_sha256 = $2 "
    "AND revoked_at IS NULL ORDER BY id DESC LIMIT 1";
// Served by issuance_intents_auth_cert_fingerprint.
constexpr const char* kPendingSameKey = PROVISIOND_INTENT_SELECT
    "WHERE auth_cert_fingerprint = $1 AND public_key_sha256 = $2 AND kind = 'enroll' "
    "AND status = 'pending' AND revoked_at IS NULL ORDER BY rowid DESC LIMIT 1";
// A pending intent will become a certificate, so it spends quota as one does (revoked or not);
// an enrollment tidy removed leaves a tombstone that spends it still (db/schema_tidy.cc).
constexpr const char* kCountEnrollments =
    "SELECT (SELECT count(*) FROM certificates WHERE auth_cert_fingerprint = $1 "
    "AND kind = 'enroll') + (SELECT count(*) FROM issuance_intents "
    "WHERE auth_cert_fingerprint = $1 AND kind = 'enroll' AND status = 'pending') + "
    "(SELECT count(*) FROM enroll_tombstones WHERE auth_cert_fingerprint = $1)";
// The same per device id (served by certificates_device_id / issuance_intents_device_id): a device
// id enrolls as often as one bootstrap certificate may, whichever bootstrap certificates it uses.
constexpr const char* kCountDeviceEnrollments =
    "SELECT (SELECT count(*) FROM certificates WHERE device_id = $1 AND kind = 'enroll') + "
    "(SELECT count(*) FROM issuance_intents WHERE device_id = $1 AND kind = 'enroll' "
    "AND status = 'pending') + (SELECT count(*) FROM enroll_tombstones WHERE device_id = $1)";
constexpr const char* kCertificateSerialExists =
    "SELECT EXISTS (SELECT 1 FROM certificates WHERE serial = $1)";
constexpr const char* kIntentSerialExists =
    "SELECT EXISTS (SELECT 1 FROM issuance_intents WHERE serial = $1)";
constexpr const char* kInsertIntent =
    "INSERT INTO issuance_intents (serial, device_id, kind, public_key_sha256, "
    "auth_cert_fingerprint, auth_cert_issuer, auth_cert_serial, tbs, not_after, peer, created_at, "
    "profile, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending')";
constexpr const char* kSelectIntent = PROVISIOND_INTENT_SELECT "WHERE serial = $1";
// Served by the partial index issuance_intents_pending.
constexpr const char* kSelectPending =
    PROVISIOND_INTENT_SELECT "WHERE status = 'pending' ORDER BY created_at, rowid";
constexpr const char* kInsertCertificate =
    "INSERT INTO certificates (serial, device_id, subject, san, not_before, not_after, der, "
    "fingerprint_sha256, public_key_sha256, auth_cert_issuer, auth_cert_serial, "
    "auth_cert_fingerprint, kind, peer, issued_at, revoked_at, revocation_reason, profile, "
    "tbs_sha256, ca_gen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
    "$16, $17, $18, $19, $20)";
// The TBS is signed and the certificate row holds it, with its hash (what the intent's state event
// in the audit chain records): the intent's row has nothing left to say (db/schema_lean.h).
constexpr const char* kDeleteIssued =
    "DELETE FROM issuance_intents WHERE serial = $1 AND status = 'pending'";

Result<std::optional<Intent>> SelectIntent(SqlSession& db, const char* sql,
                                           const SqlParams& params) {
  std::optional<Intent> intent;
  auto done = db.Query(sql, params, [&](const RowView& row) {
    if (!intent) intent = ReadIntent(row);
  });
  if (!done) return std::unexpected(done.error());
  return intent;
}

// Checks 2-4r of Store::Reserve (kind "enroll" only): the same key's certificate or pending
// intent, then the bootstrap certificate's quota and the device id's, pending intents included,
// and over quota a re-bootstrap grant (sql_rebootstrap.cc).
// nullopt when the enrollment may proceed.
Result<std::optional<IssueOutcome>> EnrollRefusal(SqlSession& db, const Intent& intent,
                                                  const IssuancePolicy& policy) {
  const auto same_key =
      SqlParams().Sha256(intent.auth_cert_fingerprint).Sha256(intent.public_key_sha256);
  std::optional<CertificateRecord> existing;
  auto found = db.Query(kSameKeyEnrollment, same_key, [&](const RowView& row) {
    if (!existing) existing = ReadCertificate(row);
  });
  if (!found) return std::unexpected(found.error());
  if (existing) return IssueOutcome{Decision::kAlreadyIssued, std::move(existing), {}};
  auto pending = SelectIntent(db, kPendingSameKey, same_key);
  if (!pending) return std::unexpected(pending.error());
  if (*pending) return IssueOutcome{Decision::kResume, std::nullopt, std::move(*pending)};
  auto count = SelectInt(db, kCountEnrollments, SqlParams().Sha256(intent.auth_cert_fingerprint));
  if (!count) return std::unexpected(count.error());
  std::optional<Decision> quota;
  if (count->value_or(0) >= policy.max_per_bootstrap) {
    quota = Decision::kBootstrapExhausted;
  } else {
    auto per_device = SelectInt(db, kCountDeviceEnrollments, SqlParams().Text(intent.device_id));
    if (!per_device) return std::unexpected(per_device.error());
    if (per_device->value_or(0) >= policy.max_per_bootstrap) quota = Decision::kDeviceEnrolled;
  }
  if (!quota) {
    // Under the quota (--bootstrap-max-enrollments above 1) with a bootstrap certificate used
    // before: an open grant for the device is spent all the same by its own bootstrap and a new
    // key, so that revoke-previous applies and the grant does not stay open for a later (perhaps
    // cloned) request. Never a refusal here; the first enrollment of a bootstrap skips it.
    if (count->value_or(0) == 0) return std::optional<IssueOutcome>();
    auto spent = RebootstrapInTxn(db, intent, Decision::kReserved);
    if (!spent) return std::unexpected(spent.error());
    return std::optional<IssueOutcome>();
  }
  // Check 4r: a re-bootstrap grant may let this one through (and is spent if it does).
  auto granted = RebootstrapInTxn(db, intent, *quota);
  if (!granted) return std::unexpected(granted.error());
  if (*granted) return IssueOutcome{**granted, std::nullopt, {}};
  return std::optional<IssueOutcome>();
}

// Check 5 of Reserve: the serial is in neither table (kDuplicateSerial naming the table).
Result<void> SerialFree(SqlSession& db, std::string_view serial_hex) {
  for (auto [sql, table] : {std::pair{kCertificateSerialExists, "certificates"},
                            std::pair{kIntentSerialExists, "intents"}}) {
    auto taken = SelectTruth(db, sql, SqlParams().Text(serial_hex));
    if (!taken) return std::unexpected(taken.error());
    if (*taken) {
      return base::Fail(Code::kDuplicateSerial,
                        "Reserve: serial " + std::string(serial_hex) + " is already in " + table);
    }
  }
  return {};
}

Result<void> InsertIntent(SqlSession& db, const Intent& intent) {
  return db.Query(kInsertIntent,
                  SqlParams()
                      .Text(intent.serial_hex)
                      .Text(intent.device_id)
                      .Text(intent.kind)
                      .Sha256(intent.public_key_sha256)
                      .Sha256(intent.auth_cert_fingerprint)
                      .Text(intent.auth_cert_issuer)
                      .Text(intent.auth_cert_serial)
                      .Blob(intent.tbs)  // empty binds NULL: refused by NOT NULL
                      .Text(intent.not_after)
                      .Text(intent.peer)
                      .Text(intent.created_at)
                      .Text(intent.profile),
                  {});
}

Result<void> InsertCertificate(SqlSession& db, const CertificateRecord& cert,
                               std::string_view tbs_sha256) {
  std::optional<int64_t> reason;
  if (cert.revocation_reason) reason = *cert.revocation_reason;
  return db.Query(kInsertCertificate,
                  SqlParams()
                      .Text(cert.serial_hex)
                      .Text(cert.device_id)
                      .Text(cert.subject)
                      .Text(cert.san)
                      .Text(cert.not_before)
                      .Text(cert.not_after)
                      .Blob(cert.der)
                      .Sha256(cert.fingerprint_sha256)
                      .Sha256(cert.public_key_sha256)
                      .Text(cert.auth_cert_issuer)
                      .Text(cert.auth_cert_serial)
                      .Sha256(cert.auth_cert_fingerprint)
                      .Text(cert.kind)
                      .Text(cert.peer)
                      .Text(cert.issued_at)
                      .OptionalText(cert.revoked_at)
                      .OptionalInt(reason)
                      .Text(cert.profile)
                      .Sha256(tbs_sha256)
                      .Int(cert.ca_gen),
                  {});
}

// The event's serial is the certificate's by definition; a different one is a caller bug.
Result<void> CheckIssuedEventSerial(const CertificateRecord& cert, const EventRecord& event) {
  if (event.serial_hex.empty() || event.serial_hex == cert.serial_hex) return {};
  return base::Fail(Code::kInternal, "Complete: event serial " + event.serial_hex +
                                         " is not the certificate's " + cert.serial_hex);
}

}  // namespace

Result<void> CheckMatchesIntent(const CertificateRecord& cert, const Intent& intent) {
  struct Field {
    const char* name;
    const std::string& cert_value;
    const std::string& intent_value;
  };
  const Field fields[] = {
      {"device_id", cert.device_id, intent.device_id},
      {"kind", cert.kind, intent.kind},
      {"public_key_sha256", cert.public_key_sha256, intent.public_key_sha256},
      {"auth_cert_fingerprint", cert.auth_cert_fingerprint, intent.auth_cert_fingerprint},
      {"not_after", cert.not_after, intent.not_after},
      {"profile", cert.profile, intent.profile},
  };
  for (const Field& field : fields) {
    if (field.cert_value != field.intent_value) {
      return base::Fail(Code::kConstraint, "Complete: certificate " + cert.serial_hex + " has " +
                                               field.name + " '" + field.cert_value +
                                               "' but its intent has '" + field.intent_value + "'");
    }
  }
  return {};
}

Result<IssueOutcome> ReserveInTxn(SqlSession& db, const Intent& intent,
                                  const IssuancePolicy& policy) {
  auto refused = StatusRefusal(db, intent);
  if (!refused) return std::unexpected(refused.error());
  if (*refused) return IssueOutcome{**refused, std::nullopt, std::nullopt};
  auto reused = SelectTruth(db, kKeyInOtherDevice,
                            SqlParams().Sha256(intent.public_key_sha256).Text(intent.device_id));
  if (!reused) return std::unexpected(reused.error());
  if (*reused) return IssueOutcome{Decision::kKeyReuse, std::nullopt, std::nullopt};
  if (intent.kind == "enroll") {
    auto enroll = EnrollRefusal(db, intent, policy);
    if (!enroll) return std::unexpected(enroll.error());
    if (*enroll) return std::move(**enroll);
  }
  if (auto free = SerialFree(db, intent.serial_hex); !free) return std::unexpected(free.error());
  if (auto inserted = InsertIntent(db, intent); !inserted) return std::unexpected(inserted.error());
  if (auto recorded = db.AppendEvent(CompactIntentStateEvent(intent), ""); !recorded) {
    return std::unexpected(recorded.error());
  }
  return IssueOutcome{Decision::kReserved, std::nullopt, std::nullopt};
}

Result<void> CompleteInTxn(SqlSession& db, const CertificateRecord& cert,
                           const EventRecord& event) {
  if (auto checked = CheckIssuedEventSerial(cert, event); !checked) return checked;
  auto found = SelectIntent(db, kSelectIntent, SqlParams().Text(cert.serial_hex));
  if (!found) return std::unexpected(found.error());
  if (!*found) {
    // An issued intent's row is gone (its certificate has what it said): name that case as before.
    auto issued = SelectTruth(db, kCertificateSerialExists, SqlParams().Text(cert.serial_hex));
    if (!issued) return std::unexpected(issued.error());
    return base::Fail(Code::kConstraint,
                      *issued ? "Complete: intent " + cert.serial_hex +
                                    " is already issued, not pending"
                              : "Complete: no issuance intent with serial " + cert.serial_hex);
  }
  const Intent& intent = **found;
  if (intent.status != "pending") {
    return base::Fail(Code::kConstraint, "Complete: intent " + cert.serial_hex + " is already " +
                                             intent.status + ", not pending");
  }
  if (intent.revoked_at) {
    return base::Fail(Code::kConstraint, "Complete: intent " + cert.serial_hex +
                                             " was revoked at " + *intent.revoked_at);
  }
  if (auto matches = CheckMatchesIntent(cert, intent); !matches) return matches;
  if (auto revoked = RevokePreviousInTxn(db, cert); !revoked) return revoked;
  if (auto inserted = InsertCertificate(db, cert, ca::Sha256Hex(intent.tbs)); !inserted) {
    return inserted;
  }
  if (auto recorded = db.AppendEvent(event, cert.serial_hex); !recorded) return recorded;
  return db.Query(kDeleteIssued, SqlParams().Text(cert.serial_hex), {});
}

Result<void> RecordEventInTxn(SqlSession& db, const EventRecord& event) {
  return db.AppendEvent(event, event.serial_hex);
}

Result<void> SqlStore::RecordEvent(const EventRecord& event) {
  // A transaction even for one row: the chain's head must not move between reading and writing.
  return WithSession(
      [&](SqlSession& db) { return db.InWrite([&] { return RecordEventInTxn(db, event); }); });
}

Result<IssueOutcome> SqlStore::Reserve(const Intent& intent, const IssuancePolicy& policy) {
  return Use<IssueOutcome>([&](SqlSession& db) -> Result<IssueOutcome> {
    std::optional<IssueOutcome> outcome;
    auto done = db.InWrite([&]() -> Result<void> {
      auto decided = ReserveInTxn(db, intent, policy);
      if (!decided) return std::unexpected(decided.error());
      outcome = std::move(*decided);
      return {};
    });
    if (!done) return std::unexpected(done.error());
    return std::move(*outcome);
  });
}

Result<void> SqlStore::Complete(const CertificateRecord& cert, const EventRecord& issued_event) {
  return WithSession([&](SqlSession& db) {
    return db.InWrite([&] { return CompleteInTxn(db, cert, issued_event); });
  });
}

Result<std::vector<Intent>> SqlStore::PendingIntents() {
  return Use<std::vector<Intent>>([&](SqlSession& db) { return SelectPendingIntents(db); });
}

Result<std::vector<Intent>> SelectPendingIntents(SqlSession& db) {
  std::vector<Intent> intents;
  auto done =
      db.Query(kSelectPending, {}, [&](const RowView& row) { intents.push_back(ReadIntent(row)); });
  if (!done) return std::unexpected(done.error());
  return intents;
}

}  // namespace db
