// ca_generation_states.h — the CA generations' states read from a SQLite store file on a
// read-only connection of its own (never created or written), or from a PostgreSQL store on a
// session of its own that only reads: what `provisiond check-config` needs to know which
// generations' keys serve may use, without opening the store for serve (no migration check).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "db/records.h"

namespace db {

// gen -> state ("pending" | "active" | "previous" | "retired") from ca_generations; empty when
// the store has no such table (a schema before the rollover migration) or no row (no rollover).
// kIo / kCorrupt naming SQLite's error when the file cannot be opened or read.
Result<std::map<int64_t, std::string>> ReadCaGenerationStates(const std::string& sqlite_path);

// The same from a PostgreSQL store (conninfo as StoreLocation holds it, password included): one
// session, two SELECTs, closed on return. kIo when the server cannot be reached or refuses (the
// detail never shows the conninfo), the SQLSTATE's code when a statement fails.
Result<std::map<int64_t, std::string>> ReadPgCaGenerationStates(const std::string& conninfo);

}  // namespace db
