// backend.h — the store backends the db test suite runs against. A case written as
// TEST_CASE_TEMPLATE("...", Backend, PROVISIOND_DB_BACKENDS) runs once per backend (its ctest name
// ends in "<sqlite>", "<...>"), using only db::Store and the backend's group-commit queue.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>

#include "db/pg_store.h"
#include "db/pg_writer.h"
#include "db/sqlite_store.h"
#include "db/store.h"
#include "db/writer.h"
#include "tests/db/pg_fixture.h"
#include "tests/db/store_fixture.h"

namespace db::testing {

// What a backend offers the suite:
//   static std::unique_ptr<Store> Open(const TempDir& dir)
//       The store whose data lives with `dir`, empty for a new dir; opening it twice with one
//       dir gives two handles on the same data (as two processes, or a restart, would see it).
//       Fails the test if it cannot.
//   static std::unique_ptr<Writer> StartQueue(Store& store, microseconds commit_delay = {})
//       The group-commit write path production sends Reserve, Complete and events through, for
//       a store this backend opened: db::Writer on the backend's own transaction.
struct SqliteBackend {
  static std::unique_ptr<SqliteStore> OpenSqlite(const TempDir& dir) {
    auto store = SqliteStore::Open(dir.File("store.db"));
    REQUIRE_MESSAGE(store.has_value(), (store ? "" : store.error().detail));
    return std::move(*store);
  }
  static std::unique_ptr<Store> Open(const TempDir& dir) { return OpenSqlite(dir); }

  using Queue = Writer;
  static std::unique_ptr<Queue> StartQueue(Store& store,
                                           std::chrono::microseconds commit_delay = {}) {
    auto* sqlite = dynamic_cast<SqliteStore*>(&store);
    REQUIRE_MESSAGE(sqlite != nullptr, "SqliteBackend::StartQueue: not a SqliteStore");
    return std::make_unique<Writer>(*sqlite, 4096, 256, commit_delay);
  }
};

// PostgreSQL: the cluster the CTest fixture db/pg_cluster started (tests/db/pg_fixture.h). `dir`
// names a database of its own (created, migrated and dropped with `dir`), so every case starts
// empty and cases run in parallel.
struct PgBackend {
  static std::unique_ptr<Store> Open(const TempDir& dir) {
    auto store = PgStore::Open(PgTestDatabase::For(dir));
    REQUIRE_MESSAGE(store.has_value(), (store ? "" : store.error().detail));
    return std::move(*store);
  }

  using Queue = Writer;
  static std::unique_ptr<Queue> StartQueue(Store& store,
                                           std::chrono::microseconds commit_delay = {}) {
    auto* pg = dynamic_cast<PgStore*>(&store);
    REQUIRE_MESSAGE(pg != nullptr, "PgBackend::StartQueue: not a PgStore");
    auto writer = PgWriter::Start(*pg, 4096, 256, commit_delay);
    REQUIRE_MESSAGE(writer.has_value(), (writer ? "" : writer.error().detail));
    return std::move(*writer);
  }
};

}  // namespace db::testing

TYPE_TO_STRING_AS("sqlite", db::testing::SqliteBackend);
TYPE_TO_STRING_AS("postgresql", db::testing::PgBackend);

// Every backend the parameterized cases run against; the next backend adds itself here.
#define PROVISIOND_DB_BACKENDS db::testing::SqliteBackend, db::testing::PgBackend
