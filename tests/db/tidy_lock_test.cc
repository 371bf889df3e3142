// tidy_lock_test.cc — Store::TryLockTidy (db/tidy_lock.cc): one tidy at a time per store, per
// backend (backend.h). Two handles on one store stand for two processes (on PostgreSQL, two
// hosts: two sessions); the lock is released with its holder, and on PostgreSQL a holder whose
// session ended learns it has lost the lock.
#include <doctest/doctest.h>

#include <memory>
#include <type_traits>

#include "db/store.h"
#include "tests/db/backend.h"
#include "tests/db/tamper.h"

namespace db::testing {
namespace {

TEST_CASE_TEMPLATE("TryLockTidy: one holder per store, the next gets kBusy until it lets go",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto first = Backend::Open(dir);
  auto second = Backend::Open(dir);  // the same data, as another process would open it

  auto held = first->TryLockTidy();
  REQUIRE_MESSAGE(held.has_value(), (held ? "" : held.error().detail));
  CHECK((*held)->Held().has_value());

  auto refused = second->TryLockTidy();
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == Code::kBusy);
  CHECK(refused.error().detail == "another tidy is running on this store");
  // Not re-entrant on one handle either: a second run in the same process is refused too.
  auto again = first->TryLockTidy();
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code == Code::kBusy);

  held->reset();  // the holder ends
  auto next = second->TryLockTidy();
  REQUIRE_MESSAGE(next.has_value(), (next ? "" : next.error().detail));
  CHECK((*next)->Held().has_value());
  CHECK_FALSE(first->TryLockTidy().has_value());

  // Another store is not locked by this one's tidy.
  TempDir other_dir;
  auto other = Backend::Open(other_dir);
  auto other_lock = other->TryLockTidy();
  CHECK_MESSAGE(other_lock.has_value(), (other_lock ? "" : other_lock.error().detail));

  if constexpr (std::is_same_v<Backend, PgBackend>) {
    SUBCASE("PostgreSQL: a holder whose session ended has lost the lock, and says so") {
      Tamper<Backend>(dir,
                      "DO $$ BEGIN PERFORM pg_terminate_backend(pid) FROM pg_locks "
                      "WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database "
                      "WHERE datname = current_database()); END $$");
      CHECK_FALSE((*next)->Held().has_value());  // the session is gone: kIo
      CHECK_FALSE((*next)->Held().has_value());  // a new session does not hold it: kBusy
      auto taken = first->TryLockTidy();  // and another tidy may take it now
      CHECK_MESSAGE(taken.has_value(), (taken ? "" : taken.error().detail));
    }
  }
}

}  // namespace
}  // namespace db::testing
