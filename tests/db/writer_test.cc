// writer_test.cc — SQLite-only: tests db::Writer (db/writer.cc): grouping under concurrent
// submitters, one failing operation undone alone inside its batch, a failed COMMIT failing the
// whole batch, a locked database, the queue bound and draining on destruction. The commit delay
// (gathering) is in writer_delay_test.cc.
#include "db/writer.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

#include "tests/db/sqlite_fixture.h"
#include "tests/db/writer_fixture.h"

namespace db::testing {
namespace {

// Holds the writer thread inside a done callback, so that what is submitted meanwhile queues up
// and is taken as one batch once Open() is called (or the Gate goes out of scope).
class Gate {
 public:
  explicit Gate(Writer& writer) {
    // Shared with the callback, which may still be returning from wait() after ~Gate.
    REQUIRE(writer.SubmitEvent(SampleEvent("rejected"), [latches = latches_](Result<void>) {
      latches->entered.count_down();
      latches->release.wait();
    }));
    latches_->entered.wait();
  }
  ~Gate() { Open(); }
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;
  void Open() {
    if (!opened_) latches_->release.count_down();
    opened_ = true;
  }

 private:
  struct Latches {
    std::latch entered{1};
    std::latch release{1};
  };
  std::shared_ptr<Latches> latches_ = std::make_shared<Latches>();
  bool opened_ = false;
};

// Events other than the state events of intents and revocations (db/audit_state.h).
constexpr const char* kCountIssuanceEvents =
    "SELECT count(*) FROM enrollment_events WHERE endpoint <> 'state'";

int64_t Count(const std::string& path, const std::string& sql) {
  return QueryRawInt(OpenRaw(path).get(), sql);
}

void CheckChain(Store& store) {
  auto report = store.VerifyAuditChain();
  REQUIRE(report.has_value());
  CHECK_MESSAGE(report->ok, report->problem);
}

TEST_CASE("concurrent reserve + complete pairs are all committed, in fewer batches") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  std::atomic<int> events_done{0};
  std::vector<std::vector<std::string>> failures(kThreads);
  {
    Writer writer(*store);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          int n = t * 1000 + i;
          Intent intent = EnrollIntent(n, n, "device-" + std::to_string(n), HashHex(n, 'c'));
          Outcome<Result<IssueOutcome>> reserved;
          if (!writer.SubmitReserve(intent, IssuancePolicy{}, reserved.Callback())) {
            failures[t].push_back("queue full");
            continue;
          }
          auto decision = reserved.Get();
          if (!decision || decision->decision != Decision::kReserved) {
            failures[t].push_back("reserve " + intent.serial_hex);
            continue;
          }
          // A fire-and-forget event between the two phases (as a worker logs a refusal).
          writer.SubmitEvent(SampleEvent("rejected"), [&](Result<void> r) {
            if (r) ++events_done;
          });
          CertificateRecord cert = CertificateFor(intent);
          Outcome<Result<void>> completed;
          if (!writer.SubmitComplete(cert, SampleEvent("issued", cert.serial_hex),
                                     completed.Callback())) {
            failures[t].push_back("queue full");
          } else if (!completed.Get()) {
            failures[t].push_back("complete " + intent.serial_hex);
          }
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    // Read before the destructor: every callback above has run, the fire-and-forget ones may not.
    Writer::Stats stats = writer.stats();
    CHECK(stats.commit_failures == 0);
    CHECK(stats.batches < stats.operations);  // grouped
    MESSAGE("batches=" << stats.batches << " operations=" << stats.operations << " largest_batch="
                       << stats.largest_batch << " max_commit_ms=" << stats.max_commit_ms);
  }
  for (const auto& thread_failures : failures) {
    for (const std::string& failure : thread_failures) FAIL_CHECK(failure);
  }
  constexpr int kTotal = kThreads * kPerThread;
  CHECK(events_done.load() == kTotal);
  CHECK(store->CountCertificates().value() == kTotal);
  // Every intent issued: each certificate has its TBS hash, and no intent row is left.
  CHECK(Count(path, "SELECT count(*) FROM certificates WHERE tbs_sha256 IS NOT NULL") == kTotal);
  CHECK(Count(path, "SELECT count(*) FROM issuance_intents") == 0);
  CHECK(store->PendingIntents().value().empty());
  CHECK(Count(path, kCountIssuanceEvents) == 2 * kTotal);
  // One "intent" state event per Reserve, chained by the writer like the others.
  CHECK(Count(path, "SELECT count(*) FROM enrollment_events WHERE outcome = 'intent'") == kTotal);
  CheckChain(*store);
}

TEST_CASE("a failing operation is undone alone and the rest of its batch commits") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  ExecRaw(OpenRaw(path).get(),
          "CREATE TRIGGER refuse BEFORE INSERT ON enrollment_events WHEN NEW.reason = 'refuse' "
          "BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  Writer writer(*store);
  Intent a = EnrollIntent(1, 1, "device-a", HashHex(1, 'c'));
  Intent b = EnrollIntent(2, 2, "device-b", HashHex(2, 'c'));
  Intent a_retry = EnrollIntent(3, 1, "device-a", HashHex(1, 'c'));
  EventRecord refused = SampleEvent("rejected");
  refused.reason = "refuse";
  CertificateRecord unknown = CertificateFor(EnrollIntent(9, 9, "device-z", HashHex(9, 'c')));
  CertificateRecord cert_b = CertificateFor(b);

  Outcome<Result<IssueOutcome>> reserve_a, reserve_b, resume_a;
  Outcome<Result<void>> complete_unknown, event_refused, event_ok, complete_b, complete_b_again;
  uint64_t batches_before = 0;
  {
    Gate gate(writer);
    batches_before = writer.stats().batches;  // the gate's own batch
    REQUIRE(writer.SubmitReserve(a, IssuancePolicy{}, reserve_a.Callback()));
    REQUIRE(writer.SubmitComplete(unknown, SampleEvent("issued", unknown.serial_hex),
                                  complete_unknown.Callback()));
    REQUIRE(writer.SubmitReserve(b, IssuancePolicy{}, reserve_b.Callback()));
    REQUIRE(writer.SubmitEvent(refused, event_refused.Callback()));
    // Sees a's intent, inserted earlier in the same transaction.
    REQUIRE(writer.SubmitReserve(a_retry, IssuancePolicy{}, resume_a.Callback()));
    REQUIRE(writer.SubmitEvent(SampleEvent("rejected"), event_ok.Callback()));
    REQUIRE(writer.SubmitComplete(cert_b, SampleEvent("issued", cert_b.serial_hex),
                                  complete_b.Callback()));
    REQUIRE(writer.SubmitComplete(cert_b, SampleEvent("issued", cert_b.serial_hex),
                                  complete_b_again.Callback()));
    CHECK(writer.queue_depth() == 8);
  }

  CHECK(reserve_a.Get().value().decision == Decision::kReserved);
  auto unknown_result = complete_unknown.Get();
  REQUIRE_FALSE(unknown_result.has_value());
  CHECK(unknown_result.error().code == Code::kConstraint);
  CHECK(reserve_b.Get().value().decision == Decision::kReserved);
  auto refused_result = event_refused.Get();
  REQUIRE_FALSE(refused_result.has_value());
  CHECK(refused_result.error().detail.find("injected") != std::string::npos);
  IssueOutcome resumed = resume_a.Get().value();
  CHECK(resumed.decision == Decision::kResume);
  REQUIRE(resumed.intent.has_value());
  CHECK(resumed.intent->serial_hex == a.serial_hex);
  CHECK(event_ok.Get().has_value());
  CHECK(complete_b.Get().has_value());
  auto again = complete_b_again.Get();
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().detail.find("already issued") != std::string::npos);

  Writer::Stats stats = writer.stats();
  CHECK(stats.batches == batches_before + 1);  // all eight in one transaction
  CHECK(stats.commit_failures == 0);
  CHECK(stats.largest_batch == 8);
  CHECK(store->PendingIntents().value().size() == 1);  // a
  CHECK(store->CountCertificates().value() == 1);      // b
  // The gate's event, event_ok and b's issued event; not the refused one.
  CHECK(Count(path, kCountIssuanceEvents) == 3);
  CheckChain(*store);
}

TEST_CASE("a failed COMMIT fails every operation of the batch and writes none of it") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  // A deferred foreign key is checked at COMMIT: an event with this reason makes COMMIT fail.
  ExecRaw(OpenRaw(path).get(),
          "CREATE TABLE poison_parent (id TEXT PRIMARY KEY);"
          "CREATE TABLE poison_child (parent TEXT "
          "  REFERENCES poison_parent (id) DEFERRABLE INITIALLY DEFERRED);"
          "CREATE TRIGGER poison AFTER INSERT ON enrollment_events "
          "  WHEN NEW.reason = 'poison' BEGIN INSERT INTO poison_child VALUES ('missing'); END;");
  Writer writer(*store);
  Intent a = EnrollIntent(1, 1, "device-a", HashHex(1, 'c'));
  EventRecord poison = SampleEvent("rejected");
  poison.reason = "poison";
  CertificateRecord unknown = CertificateFor(EnrollIntent(9, 9, "device-z", HashHex(9, 'c')));
  Outcome<Result<IssueOutcome>> reserve_a;
  Outcome<Result<void>> event_ok, event_poison, complete_unknown;
  int64_t events_before = 0;
  {
    Gate gate(writer);
    events_before = Count(path, kCountIssuanceEvents);
    REQUIRE(writer.SubmitReserve(a, IssuancePolicy{}, reserve_a.Callback()));
    REQUIRE(writer.SubmitEvent(SampleEvent("rejected"), event_ok.Callback()));
    REQUIRE(writer.SubmitEvent(poison, event_poison.Callback()));
    REQUIRE(writer.SubmitComplete(unknown, SampleEvent("issued", unknown.serial_hex),
                                  complete_unknown.Callback()));
  }
  for (auto* outcome : {&event_ok, &event_poison}) {
    auto result = outcome->Get();
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == Code::kConstraint);
    CHECK(result.error().detail.find("COMMIT") != std::string::npos);
  }
  auto reserved = reserve_a.Get();
  REQUIRE_FALSE(reserved.has_value());
  CHECK(reserved.error().detail.find("COMMIT") != std::string::npos);
  // An operation that had failed on its own keeps its own error.
  auto unknown_result = complete_unknown.Get();
  REQUIRE_FALSE(unknown_result.has_value());
  CHECK(unknown_result.error().detail.find("no issuance intent") != std::string::npos);

  CHECK(writer.stats().commit_failures == 1);
  CHECK(store->PendingIntents().value().empty());
  CHECK(Count(path, kCountIssuanceEvents) == events_before);
  CHECK(Count(path, "SELECT count(*) FROM poison_child") == 0);

  // The connection is not left inside a transaction: the next batch commits.
  Outcome<Result<void>> after;
  REQUIRE(writer.SubmitEvent(SampleEvent("rejected"), after.Callback()));
  CHECK(after.Get().has_value());
  CHECK(Count(path, kCountIssuanceEvents) == events_before + 1);
  CheckChain(*store);
}

TEST_CASE("a database locked beyond busy_timeout fails the batch with kBusy") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  Writer writer(*store);
  RawDb holder = OpenRaw(path);
  ExecRaw(holder.get(), "BEGIN IMMEDIATE");
  Outcome<Result<void>> event;
  REQUIRE(writer.SubmitEvent(SampleEvent("rejected"), event.Callback()));
  auto result = event.Get();
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == Code::kBusy);
  ExecRaw(holder.get(), "ROLLBACK");
  CHECK(writer.stats().commit_failures == 1);

  Outcome<Result<void>> retry;
  REQUIRE(writer.SubmitEvent(SampleEvent("rejected"), retry.Callback()));
  CHECK(retry.Get().has_value());
}

TEST_CASE("Submit returns false when max_queue operations wait, and accepts again once drained") {
  TempDir dir;
  auto store = OpenOrDie(dir.File("store.db"));
  Writer writer(*store, /*max_queue=*/4, /*max_batch=*/2);
  std::atomic<int> done{0};
  auto count = [&](Result<void> r) {
    if (r) ++done;
  };
  {
    Gate gate(writer);
    for (int i = 0; i < 4; ++i) CHECK(writer.SubmitEvent(SampleEvent("rejected"), count));
    CHECK_FALSE(writer.SubmitEvent(SampleEvent("rejected"), count));
    CHECK_FALSE(writer.SubmitComplete(SampleCertificate(SerialHex(1)), SampleEvent("issued"),
                                      [](Result<void>) { FAIL("called"); }));
    CHECK(writer.queue_depth() == 4);
  }
  Outcome<Result<void>> last;
  // Once the gate opens the queue drains; retry until there is room (as a client after a 503).
  while (!writer.SubmitEvent(SampleEvent("rejected"), last.Callback())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(last.Get().has_value());
  CHECK(done.load() == 4);
  CHECK(writer.stats().largest_batch <= 2);
}

TEST_CASE("the destructor runs everything already queued") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  constexpr int kEvents = 300;
  std::atomic<int> done{0};
  {
    Writer writer(*store, 4096, 16);
    Gate gate(writer);
    for (int i = 0; i < kEvents; ++i) {
      REQUIRE(writer.SubmitEvent(SampleEvent("rejected"), [&](Result<void> r) {
        if (r) ++done;
      }));
    }
    gate.Open();
  }  // ~Writer with most of the 300 still queued
  CHECK(done.load() == kEvents);
  CHECK(Count(path, kCountIssuanceEvents) == kEvents + 1);
  CheckChain(*store);
}

TEST_CASE("the stats time waiting for the write lock apart from holding it") {
  TempDir dir;
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  Writer writer(*store);
  RawDb other = OpenRaw(path);
  ExecRaw(other.get(), "BEGIN IMMEDIATE");  // another writer (a second process) holds the lock
  Outcome<Result<void>> recorded;
  REQUIRE(writer.SubmitEvent(SampleEvent("rejected"), recorded.Callback()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK_FALSE(recorded.Ready());
  ExecRaw(other.get(), "COMMIT");
  CHECK(recorded.Get().has_value());
  Writer::Stats stats = writer.stats();
  CHECK(stats.batches == 1);
  CHECK(stats.total_begin_ms >= 250);  // the wait for the other writer
  CHECK(stats.total_locked_ms > 0);
  CHECK(stats.total_locked_ms >= stats.total_commit_ms);  // COMMIT is inside the lock
  CHECK(stats.total_locked_ms < stats.total_begin_ms);    // the wait is not counted as holding
  CHECK(stats.max_locked_ms == stats.total_locked_ms);
}

}  // namespace
}  // namespace db::testing
