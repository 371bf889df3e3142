// store_url.h — where the store is: the text of `--store URL` (sqlite:PATH, or a libpq URI
// postgresql://... / postgres://...) parsed and checked in one place; a password is never accepted.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace db {

// Longest --store text accepted.
inline constexpr size_t kMaxStoreUrl = 4096;

struct StoreUrl {
  enum class Engine { kSqlite, kPostgres };
  Engine engine = Engine::kSqlite;
  std::string sqlite_path;  // kSqlite: the database file
  // kPostgres: the URI's settings in libpq's keyword='value' form (PQconninfoParse of the URI),
  // without a password. libpq still reads PGPASSFILE, ~/.pgpass and the other PG* variables.
  std::string conninfo;
  // What a log line or an error may name: "sqlite:PATH", or "postgresql" with the host, port and
  // dbname the URI gave (never the user's password, never the whole conninfo).
  std::string label;
};

// Parses `text`. kInvalidArgument with one line (never repeating a password) for: an empty or
// over-long text, a NUL byte, a scheme other than sqlite:, postgresql:// and postgres://, an empty
// sqlite path, a URI libpq does not parse, and a password inside the URI (user:pass@host, or a
// password= parameter): the password goes in a file (StoreUrlWithPassword), libpq's passfile=
// parameter or PGPASSFILE, so that it is never in argv, shell history or a config file.
base::Result<StoreUrl> ParseStoreUrl(std::string_view text);

// A kPostgres url's conninfo with `password` added as libpq's password keyword (quoted): for
// --store-password-file. Only ever handed to libpq; never logged.
std::string StoreConninfoWithPassword(const StoreUrl& url, std::string_view password);

}  // namespace db
