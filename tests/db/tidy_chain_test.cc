// tidy_chain_test.cc — the audit chain across tidy's truncation on both backends
// (Store::ChainCut, CarryLiveState, TruncateChain; db/audit_tidy.h): the whole-chain verify
// passes from the new base, the archived rows verify up to the cut, and an edited remaining row,
// a row deleted outside tidy, a moved base, a deleted certificate or an edited archived row fail.
#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <memory>
#include <string>
#include <type_traits>

#include "db/store.h"
#include "tests/db/admin_writes.h"
#include "tests/db/backend.h"
#include "tests/db/sqlite_fixture.h"
#include "tests/db/tamper.h"

namespace db::testing {
namespace {

EventRecord OldEvent(const std::string& time, int n) {
  EventRecord event = SampleEvent("rejected");
  event.time = time;
  event.reason = "attempt-" + std::to_string(n);
  return event;
}

// Issue with an "issued" event at the certificate's issued_at (SampleEvent's is 2026).
void IssueAt(Store& store, const CertificateRecord& cert) {
  EventRecord issued = SampleEvent("issued", cert.serial_hex);
  issued.time = cert.issued_at;
  auto done = ReserveAndComplete(store, cert, issued, AnyQuota());
  REQUIRE_MESSAGE(done.has_value(), (done ? "" : done.error().detail));
  REQUIRE(done->decision == Decision::kReserved);
}

AuditReport Verify(Store& store) {
  auto report = store.VerifyAuditChain();
  REQUIRE_MESSAGE(report.has_value(), (report ? "" : report.error().detail));
  return *report;
}

// A store with 2020 history (events, an active certificate issued then, a block, a certificate
// that expired and a revoked one), then 2026 events; everything before 2021 is cut.
struct Truncated {
  int64_t cut = 0;
  std::vector<ChainRow> archived;  // the rows removed, read before the truncation
  ChainBase old_base;
};

Truncated BuildAndTruncate(Store& store) {
  for (int i = 0; i < 5; ++i) {
    REQUIRE(store.RecordEvent(OldEvent("2020-01-01T00:00:0" + std::to_string(i) + "Z", i)));
  }
  CertificateRecord active = EnrollCertificate(1, 1, "device-a", HashHex(1, 'c'));
  active.issued_at = "2020-01-02T00:00:00Z";
  active.not_after = "2099-01-01T00:00:00Z";
  IssueAt(store, active);
  CertificateRecord revoked = EnrollCertificate(2, 2, "device-b", HashHex(2, 'c'));
  revoked.issued_at = "2020-01-02T00:00:00Z";
  revoked.not_after = "2099-01-01T00:00:00Z";
  IssueAt(store, revoked);
  REQUIRE(store.RevokeSerial(revoked.serial_hex, 1, "2020-01-03T00:00:00Z").value() == 1);
  REQUIRE(BlockAsAdmin(store, "device-z", "lost", "2020-01-04T00:00:00Z").value());
  for (int i = 5; i < 9; ++i) {
    REQUIRE(store.RecordEvent(OldEvent("2026-01-01T00:00:0" + std::to_string(i) + "Z", i)));
  }
  AuditReport before = Verify(store);
  REQUIRE(before.ok);
  Truncated t;
  t.old_base = store.AuditChainBase().value();
  t.cut = store.ChainCut("2021-01-01T00:00:00Z", before.rows_checked).value();
  REQUIRE(t.cut > 1);
  t.archived = store.ChainRows(1, t.cut, 1000).value();
  REQUIRE(static_cast<int64_t>(t.archived.size()) == t.cut - 1);
  // The intent of each certificate, the revocation and the block are below the cut.
  CHECK(store.CarryLiveState(t.cut, 2).value() == 4);
  CHECK(Verify(store).ok);  // holds between the carry and the truncation too
  int64_t removed = 0;
  for (int i = 0; i < 100; ++i) {
    const int n = store.TruncateChain(t.cut, "checkpoint-text", 3).value();
    if (n == 0) break;
    removed += n;
    CHECK_MESSAGE(Verify(store).ok, "after a batch of the truncation");
  }
  CHECK(removed == t.cut - 1);
  return t;
}

}  // namespace

TEST_CASE_TEMPLATE("a truncated audit chain verifies whole from its base", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Truncated t = BuildAndTruncate(*store);
  ChainBase base = store->AuditChainBase().value();
  CHECK(base.first_id == t.cut);
  CHECK(base.prev_hash == t.archived.back().row_hash);
  CHECK(base.checkpoint == "checkpoint-text");
  AuditReport after = Verify(*store);
  CHECK_MESSAGE(after.ok, after.problem);
  // The archived rows prove the removed part: they link from genesis up to the base's prev_hash.
  AuditReport archived = VerifyArchivedChain(t.archived, t.old_base);
  CHECK_MESSAGE(archived.ok, archived.problem);
  CHECK(archived.head_hash == base.prev_hash);
  std::vector<ChainRow> edited = t.archived;
  edited[1].event.reason = "edited";
  AuditReport bad = VerifyArchivedChain(edited, t.old_base);
  CHECK_FALSE(bad.ok);
  CHECK(bad.first_bad_id == edited[1].id);
  // The chain goes on: new state after the truncation is recorded and checked as before.
  REQUIRE(store->RevokeSerial(SerialHex(1), 4, "2026-02-01T00:00:00Z").value() == 1);
  CHECK(Verify(*store).ok);
  // A later truncation with nothing below its cut removes nothing.
  CHECK(store->TruncateChain(t.cut, "x", 10).value() == 0);
}

TEST_CASE_TEMPLATE("tampering with a truncated chain still shows", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  Truncated t = BuildAndTruncate(*store);
  const std::string first = std::to_string(t.cut);
  SUBCASE("a remaining row edited") {
    Tamper<Backend>(dir, "UPDATE enrollment_events SET reason = 'x' WHERE id = " +
                             std::to_string(t.cut + 1));
  }
  SUBCASE("the first remaining row deleted outside tidy") {
    Tamper<Backend>(dir, "DELETE FROM enrollment_events WHERE id = " + first);
  }
  SUBCASE("the base moved") {
    Tamper<Backend>(dir, "UPDATE audit_chain_base SET first_id = first_id + 1");
  }
  SUBCASE("an active certificate deleted (its carried intent event matches no row)") {
    Tamper<Backend>(dir, "DELETE FROM certificates WHERE serial = '" + SerialHex(1) + "'");
  }
  SUBCASE("the revoked certificate un-revoked") {
    Tamper<Backend>(dir, "UPDATE certificates SET revoked_at = NULL, revocation_reason = NULL "
                         "WHERE serial = '" + SerialHex(2) + "'");
  }
  AuditReport report = Verify(*store);
  CHECK_FALSE(report.ok);
  MESSAGE(report.problem);
}

TEST_CASE_TEMPLATE("without carrying the live state forward, a truncation would break the "
                   "state check", Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  CertificateRecord active = EnrollCertificate(1, 1, "device-a", HashHex(1, 'c'));
  active.issued_at = "2020-01-02T00:00:00Z";
  IssueAt(*store, active);
  REQUIRE(store->RecordEvent(OldEvent("2026-01-01T00:00:00Z", 1)).has_value());
  const int64_t cut = store->ChainCut("2021-01-01T00:00:00Z", 3).value();
  REQUIRE(cut == 3);  // the intent and its "issued" event (2020) | the 2026 event
  while (store->TruncateChain(cut, "cp", 10).value() > 0) {
  }
  AuditReport report = Verify(*store);
  CHECK_FALSE(report.ok);  // the certificate's intent event is gone: the reason tidy carries it
  CHECK_MESSAGE(report.problem.find("certificate") != std::string::npos, report.problem);
}

}  // namespace db::testing
