// writer_memory_test.cc — SQLite-only: the Writer's enrollments (Reserve, then Complete, in group
// transactions) never ask SQLite's allocator for a block that serve's M_MMAP_THRESHOLD (16 KiB,
// daemon/serve.cc) would map and unmap once per statement (db/store.cc, temp_store = MEMORY).
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <string>

#include "db/writer.h"
#include "tests/db/sqlite_fixture.h"
#include "tests/db/writer_fixture.h"

namespace db::testing {
namespace {

constexpr sqlite3_int64 kMmapThreshold = 16 * 1024;

// One enrollment's two writes through the Writer, as the daemon submits them.
void Enroll(Writer& writer, int n) {
  Intent intent = EnrollIntent(n, n, "device-" + std::to_string(n), HashHex(n, 'c'));
  Outcome<Result<IssueOutcome>> reserved;
  REQUIRE(writer.SubmitReserve(intent, IssuancePolicy{}, reserved.Callback()));
  auto decision = reserved.Get();
  REQUIRE(decision.has_value());
  REQUIRE(decision->decision == Decision::kReserved);
  CertificateRecord cert = CertificateFor(intent);
  Outcome<Result<void>> completed;
  REQUIRE(writer.SubmitComplete(cert, SampleEvent("issued", cert.serial_hex),
                                completed.Callback()));
  REQUIRE(completed.Get().has_value());
}

TEST_CASE("the Writer's statement journals come from the heap in small pieces") {
  TempDir dir;
  auto store = OpenOrDie(dir.File("store.db"));
  auto settings = store->EffectiveSettings();
  REQUIRE(settings.has_value());
  CHECK(settings->writer_temp_store == 2);  // MEMORY

  Writer writer(*store);
  // Warm up: the page cache's first bulk allocation and the statements' compilation.
  for (int n = 1; n <= 20; ++n) Enroll(writer, n);
  sqlite3_int64 current = 0, largest = 0;
  REQUIRE(sqlite3_status64(SQLITE_STATUS_MALLOC_SIZE, &current, &largest, 1) == SQLITE_OK);
  // Enough rows that the tables' and indexes' pages split and the journals hold several pages.
  for (int n = 21; n <= 220; ++n) Enroll(writer, n);
  REQUIRE(sqlite3_status64(SQLITE_STATUS_MALLOC_SIZE, &current, &largest, 0) == SQLITE_OK);
  CHECK(largest > 0);  // SQLite's memory statistics are on: the check below can fail
  CHECK(largest < kMmapThreshold);
}

}  // namespace
}  // namespace db::testing
