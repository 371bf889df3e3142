// tamper.h — Tamper<Backend>: one SQL statement run behind the store's back (the tests that
// check audit verify, checkpoints and tidy edit rows the store would never write).
#pragma once

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <memory>
#include <string>
#include <type_traits>

#include "tests/db/backend.h"
#include "tests/db/sqlite_fixture.h"

namespace db::testing {

template <typename Backend>
void Tamper(const TempDir& dir, const std::string& sql) {
  if constexpr (std::is_same_v<Backend, SqliteBackend>) {
    ExecRaw(OpenRaw(dir.File("store.db")).get(), sql);
  } else {
    std::unique_ptr<PGconn, void (*)(PGconn*)> conn(
        PQconnectdb(PgTestDatabase::For(dir).c_str()), PQfinish);
    REQUIRE_MESSAGE(PQstatus(conn.get()) == CONNECTION_OK, PQerrorMessage(conn.get()));
    std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(conn.get(), sql.c_str()),
                                                          PQclear);
    REQUIRE_MESSAGE(PQresultStatus(result.get()) == PGRES_COMMAND_OK,
                    sql << ": " << PQerrorMessage(conn.get()));
  }
}

}  // namespace db::testing
