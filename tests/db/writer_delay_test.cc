// writer_delay_test.cc — tests db::Writer's commit delay (writer.h: gathering a batch while
// issuances are being signed, and never making a lone device or later batches wait); the first
// case on every backend.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include "db/writer.h"
#include "tests/db/backend.h"
#include "tests/db/sqlite_fixture.h"
#include "tests/db/writer_fixture.h"

namespace db::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// Reserves intent n and checks that it was reserved (the daemon then signs and completes it).
void ReserveOrDie(Writer& writer, int n) {
  Outcome<Result<IssueOutcome>> reserved;
  REQUIRE(writer.SubmitReserve(EnrollIntent(n, n, "device-" + std::to_string(n), HashHex(n, 'c')),
                               IssuancePolicy{}, reserved.Callback()));
  auto decision = reserved.Get();
  REQUIRE(decision.has_value());
  REQUIRE(decision->decision == Decision::kReserved);
}

TEST_CASE_TEMPLATE("with a commit delay, a write waits for the Complete of an issuance being signed",
                   Backend, PROVISIOND_DB_BACKENDS) {
  for (auto delay : {seconds(0), seconds(30)}) {
    CAPTURE(delay.count());
    TempDir dir;
    auto store = Backend::Open(dir);
    auto started = Backend::StartQueue(*store, delay);
    Writer& writer = *started;
    ReserveOrDie(writer, 1);  // device 1 is now signing
    // Device 2 arrives meanwhile.
    Intent second = EnrollIntent(2, 2, "device-2", HashHex(2, 'c'));
    Outcome<Result<IssueOutcome>> reserved;
    REQUIRE(writer.SubmitReserve(second, IssuancePolicy{}, reserved.Callback()));
    std::this_thread::sleep_for(milliseconds(200));
    if (delay.count() == 0) {
      CHECK(reserved.Get().has_value());  // committed alone, without waiting
    } else {
      CHECK_FALSE(reserved.Ready());  // waiting for device 1's certificate
    }
    const Clock::time_point sent = Clock::now();
    Intent first = EnrollIntent(1, 1, "device-1", HashHex(1, 'c'));
    CertificateRecord cert = CertificateFor(first);
    Outcome<Result<void>> completed;
    REQUIRE(
        writer.SubmitComplete(cert, SampleEvent("issued", cert.serial_hex), completed.Callback()));
    CHECK(completed.Get().has_value());
    if (delay.count() != 0) CHECK(reserved.Get().has_value());
    // It stopped waiting when the Complete came, not at the end of the 30 s.
    CHECK(Clock::now() - sent < seconds(10));
    Writer::Stats stats = writer.stats();
    CHECK(stats.batches == (delay.count() == 0 ? 3 : 2));
    CHECK(stats.largest_batch == (delay.count() == 0 ? 1 : 2));
    CHECK(stats.gathers == (delay.count() == 0 ? 0 : 1));
  }
}

TEST_CASE("with a commit delay, a lone device's Reserve and Complete never wait") {
  TempDir dir;
  auto store = OpenOrDie(dir.File("store.db"));
  Writer writer(*store, 4096, 256, seconds(30));
  const Clock::time_point start = Clock::now();
  for (int n = 1; n <= 3; ++n) {
    ReserveOrDie(writer, n);
    Intent intent = EnrollIntent(n, n, "device-" + std::to_string(n), HashHex(n, 'c'));
    CertificateRecord cert = CertificateFor(intent);
    Outcome<Result<void>> completed;
    REQUIRE(
        writer.SubmitComplete(cert, SampleEvent("issued", cert.serial_hex), completed.Callback()));
    CHECK(completed.Get().has_value());
  }
  CHECK(Clock::now() - start < seconds(10));
  CHECK(writer.stats().gathers == 0);
  CHECK(writer.stats().batches == 6);
}

TEST_CASE("a Complete that never comes delays one batch by the commit delay, not every later one") {
  TempDir dir;
  auto store = OpenOrDie(dir.File("store.db"));
  Writer writer(*store, 4096, 256, milliseconds(300));
  ReserveOrDie(writer, 1);  // its signing "fails": no Complete follows
  const Clock::time_point sent = Clock::now();
  Outcome<Result<void>> first;
  REQUIRE(writer.SubmitEvent(SampleEvent("rejected"), first.Callback()));
  CHECK(first.Get().has_value());
  CHECK(Clock::now() - sent >= milliseconds(300));  // it waited the whole delay for company
  CHECK(writer.stats().gathers == 1);
  for (int i = 0; i < 3; ++i) {
    Outcome<Result<void>> next;
    REQUIRE(writer.SubmitEvent(SampleEvent("rejected"), next.Callback()));
    CHECK(next.Get().has_value());
  }
  CHECK(writer.stats().gathers == 1);  // the lost Complete is forgotten
  CHECK(IssuanceEventCount(*store) == 4);
}

}  // namespace
}  // namespace db::testing
