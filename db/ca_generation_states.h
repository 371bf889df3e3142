// ca_generation_states.h — the CA generations' states read from a SQLite store file on a
// read-only connection of its own (never created or written): what `provisiond check-config`
// needs to know which generations' keys serve may use, without opening the store for serve.
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

}  // namespace db
