// query_plan_test.cc — every statement the store runs (caught with sqlite3_trace_v2 while the
// Store API is exercised; both engines share the SQL) and every README query is served by an
// index: no full scan of certificates, issuance_intents or enrollment_events in SQLite's EXPLAIN
// QUERY PLAN nor in PostgreSQL's EXPLAIN, except the reads that are whole-table by design
// (tests/db/query_plan.h, with why).
#include "tests/db/query_plan.h"

#include <doctest/doctest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "db/pg_store.h"
#include "tests/db/pg_fixture.h"
#include "tests/db/sqlite_fixture.h"

namespace db::testing {
namespace {

std::mutex traced_mu;
std::set<std::string> traced;  // sqlite3_sql() of every statement stepped while tracing

int RecordStatement(unsigned /*type*/, void* /*ctx*/, void* stmt, void* /*x*/) {
  const char* sql = sqlite3_sql(static_cast<sqlite3_stmt*>(stmt));
  std::lock_guard lock(traced_mu);
  if (sql != nullptr) traced.insert(sql);
  return 0;
}

// An auto extension runs for every connection opened after it is registered: the store's own
// and its writer's, which the test cannot otherwise reach.
int InstallTrace(sqlite3* db, const char** /*error*/, const sqlite3_api_routines* /*api*/) {
  sqlite3_trace_v2(db, SQLITE_TRACE_STMT, RecordStatement, nullptr);
  return SQLITE_OK;
}
using AutoExtension = void (*)();

// The plan's lines that read one of the growing tables whole.
std::vector<std::string> FullScans(sqlite3* db, const std::string& sql) {
  std::vector<std::string> scans;
  sqlite3_stmt* raw = nullptr;
  const std::string explain = "EXPLAIN QUERY PLAN " + sql;
  int rc = sqlite3_prepare_v2(db, explain.c_str(), -1, &raw, nullptr);
  REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << sqlite3_errmsg(db));
  while (sqlite3_step(raw) == SQLITE_ROW) {
    std::string detail = reinterpret_cast<const char*>(sqlite3_column_text(raw, 3));
    if (IsFullScan(detail)) scans.push_back(detail);
  }
  sqlite3_finalize(raw);
  return scans;
}

// Runs ExerciseStore on a SQLite store and returns every statement it ran (migrations left out)
// followed by the README's queries; the SQLite file is left at `path` for EXPLAIN.
std::vector<std::string> StatementsOfTheStore(const std::string& path) {
  OpenOrDie(path).reset();  // created and migrated before tracing: migrations are not queries
  {
    std::lock_guard lock(traced_mu);
    traced.clear();
  }
  auto extension = reinterpret_cast<AutoExtension>(&InstallTrace);
  REQUIRE(sqlite3_auto_extension(extension) == SQLITE_OK);
  {
    auto store = OpenOrDie(path);
    ExerciseStore(*store);
  }
  sqlite3_cancel_auto_extension(extension);
  std::lock_guard lock(traced_mu);
  std::vector<std::string> statements(traced.begin(), traced.end());
  for (const char* query : kReadmeQueries) statements.push_back(query);
  return statements;
}

TEST_CASE("every statement the store runs, and the README's queries, use an index (SQLite)") {
  TempDir dir;
  const std::string path = dir.File("store.db");
  const std::vector<std::string> statements = StatementsOfTheStore(path);
  auto raw = OpenRaw(path);
  int checked = 0;
  for (const std::string& sql : statements) {
    if (!IsQuery(sql) || IsWholeTableByDesign(sql)) continue;
    ++checked;
    const std::vector<std::string> scans = FullScans(raw.get(), sql);
    CHECK_MESSAGE(scans.empty(), sql << "\n  -> " << (scans.empty() ? "" : scans.front()));
  }
  // Reserve's checks, Complete, revocations, lists, the CRL, the handshake's lookups ...
  CHECK(checked >= 30);
}

// Every row of `sql`'s first column (the test's own SQL).
std::vector<std::string> PgRows(PGconn* conn, const std::string& sql) {
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(conn, sql.c_str()), PQclear);
  const auto status = PQresultStatus(result.get());
  REQUIRE_MESSAGE((status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK),
                  sql << ": " << PQerrorMessage(conn));
  std::vector<std::string> rows;
  for (int i = 0; i < PQntuples(result.get()); ++i)
    rows.emplace_back(PQgetvalue(result.get(), i, 0));
  return rows;
}

// The highest $n in `sql` (the statements bind $1..$n).
int ParameterCount(const std::string& sql) {
  int count = 0;
  for (size_t at = sql.find('$'); at != std::string::npos; at = sql.find('$', at + 1)) {
    count = std::max(count, std::atoi(sql.c_str() + at + 1));
  }
  return count;
}

TEST_CASE("the same statements use an index on PostgreSQL (EXPLAIN, sequential scans disabled)") {
  TempDir dir;
  std::vector<std::string> statements = StatementsOfTheStore(dir.File("store.db"));
  std::erase_if(statements, [](const std::string& sql) {
    // SQLite's (X'...' is a bit string to PostgreSQL); their psql forms follow
    return sql.find("strftime(") != std::string::npos || sql.find("X'") != std::string::npos;
  });
  for (const char* query : kReadmeQueriesPg) statements.push_back(query);
  const std::string conninfo = PgTestDatabase::For(dir);
  {
    auto store = PgStore::Open(conninfo);
    REQUIRE_MESSAGE(store.has_value(), (store ? "" : store.error().detail));
    ExerciseStore(**store);
  }
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(conninfo.c_str()), PQfinish);
  REQUIRE_MESSAGE(PQstatus(conn.get()) == CONNECTION_OK, PQerrorMessage(conn.get()));
  // A small table is cheaper to read whole, so the planner would: forbid it, and plan for any
  // value (a generic plan), so what is left is what the indexes can serve.
  PgRows(conn.get(), "SET enable_seqscan = off");
  PgRows(conn.get(), "SET plan_cache_mode = force_generic_plan");
  int checked = 0;
  for (const std::string& sql : statements) {
    if (!IsQuery(sql) || IsWholeTableByDesign(sql)) continue;
    ++checked;
    PgRows(conn.get(), "PREPARE q AS " + sql);
    std::string args;
    for (int i = 1; i <= ParameterCount(sql); ++i) args += (i == 1 ? "'1'" : ", '1'");
    // EXPLAIN alone does not run the statement (an UPDATE changes nothing).
    const std::string explain = "EXPLAIN EXECUTE q" + (args.empty() ? "" : "(" + args + ")");
    for (const std::string& line : PgRows(conn.get(), explain)) {
      CHECK_MESSAGE(!IsPgFullScan(line), sql << "\n  -> " << line);
    }
    PgRows(conn.get(), "DEALLOCATE q");
  }
  CHECK(checked >= 30);
}

}  // namespace
}  // namespace db::testing
