// statement_test.cc — SQLite-only: the statement cache of db::Connection (db/statement.h): a reused
// statement carries nothing from its previous use, nested uses get their own cursor, schema changes
// are followed, the hot paths reuse their statements and a Store closes cleanly.
#include "db/statement.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "db/sql_store.h"
#include "db/sqlite_session.h"
#include "db/store.h"
#include "db/writer.h"
#include "tests/db/sqlite_fixture.h"

namespace db::testing {
namespace {

// A Connection to a scratch file with one table, t(a, b), b refusing 'bad'.
struct Scratch {
  Scratch() { ExecRaw(db.get(), "CREATE TABLE t (a TEXT, b TEXT CHECK (b <> 'bad'))"); }
  std::string path() const { return dir.File("scratch.db"); }

  TempDir dir;
  Connection db{ConnectionPtr(OpenRaw(path(), /*create=*/true).release())};
};

constexpr const char* kInsertT = "INSERT INTO t (a, b) VALUES (?1, ?2)";
constexpr const char* kSelectA = "SELECT a FROM t ORDER BY a";

std::vector<std::string> StepAll(Statement& stmt) {
  std::vector<std::string> rows;
  for (;;) {
    auto row = stmt.Step();
    REQUIRE_MESSAGE(row.has_value(), (row ? "" : row.error().detail));
    if (!*row) return rows;
    rows.push_back(stmt.Text(0));
  }
}

TEST_CASE("a statement reused after a failed insert carries none of that insert's values") {
  Scratch scratch;
  Connection& db = scratch.db;
  {
    auto insert = db.Prepare(kInsertT);
    REQUIRE(insert.has_value());
    insert->BindText(1, "first");
    insert->BindText(2, "bad");
    auto refused = insert->Run();
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == Code::kConstraint);
  }
  auto insert = db.Prepare(kInsertT);
  REQUIRE(insert.has_value());
  insert->BindText(1, "second");  // ?2 left unbound: NULL, not the 'bad' of the failed insert
  REQUIRE(insert->Run().has_value());
  CHECK(QueryRaw(db.get(), "SELECT a || '/' || ifnull(b, 'NULL') FROM t") == "second/NULL");
  CHECK(QueryRawInt(db.get(), "SELECT count(*) FROM t") == 1);
}

TEST_CASE("a bind error fails only the use it happened in, not the next use of the statement") {
  Scratch scratch;
  Connection& db = scratch.db;
  {
    auto insert = db.Prepare(kInsertT);
    REQUIRE(insert.has_value());
    insert->BindText(1, "x");
    insert->BindText(3, "no such parameter");  // SQLITE_RANGE, kept for Run
    auto ran = insert->Run();
    REQUIRE_FALSE(ran.has_value());
    CHECK(ran.error().detail.find("sqlite3_bind #3") != std::string::npos);
  }
  auto insert = db.Prepare(kInsertT);
  REQUIRE(insert.has_value());
  insert->BindText(1, "y");
  insert->BindText(2, "z");
  CHECK(insert->Run().has_value());
  CHECK(QueryRaw(db.get(), "SELECT group_concat(a || b) FROM t") == "yz");
}

TEST_CASE("a query abandoned after its first row starts from the first row when used again") {
  Scratch scratch;
  Connection& db = scratch.db;
  ExecRaw(db.get(), "INSERT INTO t (a) VALUES ('1'), ('2'), ('3')");
  {
    auto select = db.Prepare(kSelectA);
    REQUIRE(select.has_value());
    REQUIRE(select->Step().value_or(false));
    CHECK(select->Text(0) == "1");
  }
  auto select = db.Prepare(kSelectA);
  REQUIRE(select.has_value());
  CHECK(StepAll(*select) == std::vector<std::string>{"1", "2", "3"});
}

TEST_CASE("the same SQL used again while its first use is still open gets a cursor of its own") {
  Scratch scratch;
  Connection& db = scratch.db;
  ExecRaw(db.get(), "INSERT INTO t (a) VALUES ('1'), ('2'), ('3')");
  auto outer = db.Prepare(kSelectA);
  REQUIRE(outer.has_value());
  REQUIRE(outer->Step().value_or(false));
  CHECK(outer->Text(0) == "1");
  {
    auto inner = db.Prepare(kSelectA);
    REQUIRE(inner.has_value());
    CHECK(StepAll(*inner) == std::vector<std::string>{"1", "2", "3"});
  }
  CHECK(StepAll(*outer) == std::vector<std::string>{"2", "3"});  // undisturbed by `inner`
  auto again = db.Prepare(kSelectA);
  REQUIRE(again.has_value());
  CHECK(StepAll(*again) == std::vector<std::string>{"1", "2", "3"});
}

TEST_CASE("a statement used before a schema change still reads the right column after it") {
  Scratch scratch;
  Connection& db = scratch.db;
  ExecRaw(db.get(), "INSERT INTO t (a) VALUES ('before')");
  {
    auto select = db.Prepare(kSelectA);
    REQUIRE(select.has_value());
    CHECK(StepAll(*select) == std::vector<std::string>{"before"});
  }
  // Another connection rebuilds t with `a` in another position.
  ExecRaw(OpenRaw(scratch.path()).get(),
          "DROP TABLE t; CREATE TABLE t (z TEXT, a TEXT); INSERT INTO t VALUES ('z', 'after')");
  auto select = db.Prepare(kSelectA);
  REQUIRE(select.has_value());
  CHECK(StepAll(*select) == std::vector<std::string>{"after"});
}

TEST_CASE("issuance operations reuse their compiled statements instead of compiling each time") {
  TempDir dir;
  std::string path = dir.File("store.db");
  OpenOrDie(path);  // creates and migrates the file
  Connection db(ConnectionPtr(OpenRaw(path).release()));
  constexpr int kRounds = 5;
  for (int n = 1; n <= kRounds; ++n) {
    Intent intent = EnrollIntent(n, n, "device-" + std::to_string(n), HashHex(n, 'c'));
    CertificateRecord cert = CertificateFor(intent);
    std::optional<Decision> decision;
    // What the Writer runs for one enrollment and one refused attempt.
    auto done = InWriteTransaction(db, [&]() -> Result<void> {
      SqliteSession session(db);
      auto reserved = ReserveInTxn(session, intent, IssuancePolicy{});
      if (!reserved) return std::unexpected(reserved.error());
      decision = reserved->decision;
      auto completed = CompleteInTxn(session, cert, SampleEvent("issued", cert.serial_hex));
      if (!completed) return completed;
      return RecordEventInTxn(session, SampleEvent("rejected"));
    });
    REQUIRE_MESSAGE(done.has_value(), (done ? "" : done.error().detail));
    CHECK(decision == Decision::kReserved);
  }
  // Every statement still compiled on the connection has run in every round (SQLITE_STMTSTATUS_RUN
  // counts resets): BEGIN, COMMIT and each query of the three operations, compiled once.
  int held = 0;
  for (sqlite3_stmt* stmt = sqlite3_next_stmt(db.get(), nullptr); stmt != nullptr;
       stmt = sqlite3_next_stmt(db.get(), stmt)) {
    ++held;
    CHECK_MESSAGE(sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_RUN, 0) >= kRounds,
                  sqlite3_sql(stmt));
  }
  CHECK(held >= 10);
}

TEST_CASE("a Store closes its connections: the last close checkpoints and empties the WAL") {
  TempDir dir;
  std::string path = dir.File("store.db");
  {
    auto store = OpenOrDie(path);
    Issue(*store, SampleCertificate(SerialHex(1)));
    CHECK(store->CertificateStatus(SerialHex(1)).value() == CertStatus::kActive);
    CHECK_FALSE(store->IsBootstrapDenied(HashHex(1), "CN=x", "01").value());
    {
      Writer writer(*store);
      std::promise<Result<void>> recorded;
      REQUIRE(writer.SubmitEvent(SampleEvent("rejected"),
                                 [&](Result<void> result) { recorded.set_value(result); }));
      CHECK(recorded.get_future().get().has_value());
    }
    REQUIRE(std::filesystem::exists(path + "-wal"));
  }
  // A statement left unfinalized would have kept its connection open (sqlite3_close_v2 makes it
  // a zombie) and the WAL's frames in place. The file itself stays (SQLITE_FCNTL_PERSIST_WAL,
  // db/store.cc), truncated to nothing by the last close's checkpoint.
  REQUIRE(std::filesystem::exists(path + "-wal"));
  CHECK(std::filesystem::file_size(path + "-wal") == 0);
  CHECK(RowCount(path, "enrollment_events") == 3);  // the intent, its issued event, "rejected"
}

}  // namespace
}  // namespace db::testing
