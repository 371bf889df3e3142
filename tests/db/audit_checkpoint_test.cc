// audit_checkpoint_test.cc — tests Store::VerifyAuditChainFrom (db/audit.cc VerifyEventChainFrom)
// on both backends: the walk from a checkpoint's row, a chain rewritten at or below it, an edit
// after it, its row gone, and rows below it deleted outside tidy (its link gone: tidy's own cut is
// tests/db/chain_link_migration_test.cc's).
#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <memory>
#include <string>
#include <type_traits>

#include "db/store.h"
#include "tests/db/backend.h"
#include "tests/db/sqlite_fixture.h"
#include "tests/db/tamper.h"

namespace db::testing {
namespace {

// Six events, ids 1..6; `reason` goes into each, so two stores with different reasons hold two
// different chains of the same length.
void WriteSix(Store& store, const std::string& reason) {
  for (int i = 0; i < 6; ++i) {
    EventRecord event = SampleEvent("rejected");
    event.reason = reason + "-" + std::to_string(i);
    REQUIRE(store.RecordEvent(event).has_value());
  }
}

AuditReport From(Store& store, int64_t id, const std::string& hash) {
  auto report = store.VerifyAuditChainFrom(id, hash);
  REQUIRE_MESSAGE(report.has_value(), (report ? "" : report.error().detail));
  return *report;
}

}  // namespace

TEST_CASE_TEMPLATE("audit verify from a checkpoint walks only the rows from it on", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  WriteSix(*store, "genuine");
  AuditReport whole = store->VerifyAuditChain().value();
  REQUIRE(whole.ok);
  REQUIRE(whole.rows_checked == 6);
  // A checkpoint at the head: one row walked.
  AuditReport at_head = From(*store, 6, whole.head_hash);
  CHECK_MESSAGE(at_head.ok, at_head.problem);
  CHECK(at_head.rows_checked == 1);
  CHECK(at_head.head_hash == whole.head_hash);
  // Rows written after a checkpoint are checked from it on.
  WriteSix(*store, "later");
  AuditReport after = From(*store, 6, whole.head_hash);
  CHECK_MESSAGE(after.ok, after.problem);
  CHECK(after.rows_checked == 7);
  // A wrong hash for the checkpoint's row: the chain does not match it.
  AuditReport wrong = From(*store, 6, std::string(64, 'e'));
  CHECK_FALSE(wrong.ok);
  CHECK(wrong.first_bad_id == 6);
  CHECK_MESSAGE(wrong.problem.find("does not match the checkpoint") != std::string::npos,
                wrong.problem);
  CHECK_FALSE(store->VerifyAuditChainFrom(0, whole.head_hash).has_value());
}

TEST_CASE_TEMPLATE("a chain rewritten at or below the checkpoint fails from it", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir genuine_dir, forged_dir;
  auto genuine = Backend::Open(genuine_dir);
  WriteSix(*genuine, "genuine");
  AuditReport checkpoint = genuine->VerifyAuditChain().value();
  // The forger's chain: as long, every row consistent, different content (a rewrite of the
  // whole chain, which an unkeyed hash cannot show on its own).
  auto forged = Backend::Open(forged_dir);
  WriteSix(*forged, "forged");
  WriteSix(*forged, "after");
  AuditReport forged_whole = forged->VerifyAuditChain().value();
  CHECK(forged_whole.ok);  // the full walk passes: only the checkpoint tells
  AuditReport from = From(*forged, checkpoint.rows_checked, checkpoint.head_hash);
  CHECK_FALSE(from.ok);
  CHECK(from.first_bad_id == 6);
  CHECK_MESSAGE(from.problem.find("does not match the checkpoint") != std::string::npos,
                from.problem);
}

TEST_CASE_TEMPLATE("an edit after the checkpoint, or its row gone, fails from it", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  WriteSix(*store, "genuine");
  AuditReport first = store->VerifyAuditChain().value();
  WriteSix(*store, "later");
  SUBCASE("a later row edited") {
    Tamper<Backend>(dir, "UPDATE enrollment_events SET reason = 'edited' WHERE id = 9");
    AuditReport r = From(*store, 6, first.head_hash);
    CHECK_FALSE(r.ok);
    CHECK(r.first_bad_id == 9);
  }
  SUBCASE("the checkpoint's row edited along with its hash") {
    const bool sqlite = std::is_same_v<Backend, SqliteBackend>;  // the 32 bytes, bb...bb
    Tamper<Backend>(dir, std::string("UPDATE enrollment_events SET row_hash = ") +
                             (sqlite ? "X'" + std::string(64, 'b') + "'"
                                     : "decode('" + std::string(64, 'b') + "', 'hex')") +
                             " WHERE id = 6");
    AuditReport r = From(*store, 6, first.head_hash);
    CHECK_FALSE(r.ok);
    CHECK(r.first_bad_id == 6);
  }
  SUBCASE("the checkpoint's row deleted") {
    Tamper<Backend>(dir, "DELETE FROM enrollment_events WHERE id = 6");
    AuditReport r = From(*store, 6, first.head_hash);
    CHECK_FALSE(r.ok);
    CHECK_MESSAGE(r.problem.find("the checkpoint's) is gone") != std::string::npos, r.problem);
  }
  SUBCASE("everything from the checkpoint's row on deleted") {
    Tamper<Backend>(dir, "DELETE FROM enrollment_events WHERE id >= 6");
    AuditReport r = From(*store, 6, first.head_hash);
    CHECK_FALSE(r.ok);
    CHECK(r.rows_checked == 0);
    CHECK_MESSAGE(r.problem.find("the checkpoint's) is gone") != std::string::npos, r.problem);
  }
  // Since the rows no longer store prev_hash (SQLite 12 / PostgreSQL 9) the checkpoint's row is
  // bound to its columns only through its link; rows below it removed outside tidy (which moves
  // the chain's base with them) leave none, and an edit of that row keeping its hash would pass.
  SUBCASE("the rows below the checkpoint deleted outside tidy: fails from it") {
    Tamper<Backend>(dir, "DELETE FROM enrollment_events WHERE id < 6");
    AuditReport r = From(*store, 6, first.head_hash);
    CHECK_FALSE(r.ok);
    CHECK(r.first_bad_id == 6);
    CHECK_MESSAGE(r.problem.find("deleted outside tidy") != std::string::npos, r.problem);
    CHECK_FALSE(store->VerifyAuditChain().value().ok);  // the full walk misses its first rows
  }
  SUBCASE("the row below deleted and the checkpoint's row edited, its hash kept: fails") {
    Tamper<Backend>(dir, "DELETE FROM enrollment_events WHERE id = 5");
    Tamper<Backend>(dir, "UPDATE enrollment_events SET reason = 'edited' WHERE id = 6");
    AuditReport r = From(*store, 6, first.head_hash);
    CHECK_FALSE(r.ok);
    CHECK(r.first_bad_id == 6);
  }
}

}  // namespace db::testing
