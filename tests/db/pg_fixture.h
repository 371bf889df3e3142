// pg_fixture.h — the PostgreSQL side of the db tests: where the cluster of the CTest fixture
// db/pg_cluster (tests/db/pg_cluster.sh) is, and one fresh, migrated database per TempDir.
#pragma once

#include <doctest/doctest.h>
#include <libpq-fe.h>
#include <stdlib.h>

#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "db/pg_store.h"
#include "tests/db/store_fixture.h"

namespace db::testing {

class PgTestDatabase {
 public:
  // The conninfo of the cluster's maintenance database, from the file named by
  // $PROVISIOND_TEST_PG_CONNINFO_FILE (written by pg_cluster.sh start). Fails the test when the
  // variable or the file is missing: the PostgreSQL cases never skip.
  static std::string Cluster() {
    const char* file = getenv("PROVISIOND_TEST_PG_CONNINFO_FILE");
    REQUIRE_MESSAGE(file != nullptr,
                    "PROVISIOND_TEST_PG_CONNINFO_FILE is not set: run the PostgreSQL cases "
                    "through ctest (fixture db/pg_cluster, tests/db/pg_cluster.sh)");
    std::ifstream in(file);
    std::string conninfo;
    std::getline(in, conninfo);
    if (conninfo.empty()) {
      // pg_cluster.sh start keeps the reason it could not start a cluster beside the conninfo.
      std::string dir(file);
      dir = dir.substr(0, dir.find_last_of('/') + 1);
      std::ifstream error_in(dir + "error");
      std::string reason((std::istreambuf_iterator<char>(error_in)), {});
      FAIL("no PostgreSQL cluster for this case (" << std::string(file) << " is missing): "
           << (reason.empty() ? "did db/pg_cluster_start run?" : reason));
    }
    return conninfo;
  }

  // Runs one statement on the maintenance database (CREATE / DROP DATABASE take no parameters;
  // the names are ours, see DatabaseName). "" on success, else the error.
  static std::string Admin(const std::string& cluster, const std::string& sql) {
    std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(cluster.c_str()), PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) return PQerrorMessage(conn.get());
    std::unique_ptr<PGresult, void (*)(PGresult*)> result(
        PQexecParams(conn.get(), sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0), PQclear);
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) return sql + ": " + PQerrorMessage(conn.get());
    return "";
  }

  // The conninfo of `dir`'s own database: created (and, with `migrate`, migrated) on first use,
  // dropped with `dir`. Opening it twice gives two handles on the same data.
  static std::string For(const TempDir& dir, bool migrate = true) {
    const std::string cluster = Cluster();
    const std::string name = DatabaseName(dir);
    static std::mutex mu;
    static std::map<std::string, bool> created;
    std::lock_guard lock(mu);
    if (!created[name]) {
      std::string error = Admin(cluster, "CREATE DATABASE \"" + name + "\"");
      REQUIRE_MESSAGE(error.empty(), error);
      created[name] = true;
      dir.OnCleanup([cluster, name] {
        // WITH (FORCE): a store the case leaked must not keep its database alive.
        std::string dropped =
            Admin(cluster, "DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
        if (!dropped.empty()) FAIL_CHECK(dropped);
        std::lock_guard inner(mu);
        created.erase(name);
      });
      if (migrate) {
        auto migrated = PgStore::Migrate(Conninfo(cluster, name));
        REQUIRE_MESSAGE(migrated.has_value(), (migrated ? "" : migrated.error().detail));
      }
    }
    return Conninfo(cluster, name);
  }

  // "t_" + the TempDir's mkdtemp name (letters, digits, '-'): unique while the dir exists; used
  // as a quoted identifier, so case is kept.
  static std::string DatabaseName(const TempDir& dir) { return "t_" + dir.Name(); }

  static std::string Conninfo(const std::string& cluster, const std::string& name) {
    return cluster + " dbname=" + name;  // a later keyword wins in libpq's conninfo
  }
};

}  // namespace db::testing
