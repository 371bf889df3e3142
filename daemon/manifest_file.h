// manifest_file.h — the factory manifest file `provisiond manifest import` reads: CSV with the
// header `device_id,bootstrap_sha256`, or a JSON array of objects with those two keys. Pure (no
// file, no store): unit-tested (tests/daemon/manifest_file_test.cc) and fuzzed
// (fuzz/manifest_fuzz.cc).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "db/manifest_records.h"

namespace provisiond {

// The bounds, checked before anything is parsed.
inline constexpr size_t kMaxManifestBytes = 16 << 20;  // the whole file
inline constexpr size_t kMaxManifestLineBytes = 512;   // one CSV line (JSON: not line-based)
inline constexpr size_t kMaxManifestRows = 100000;     // devices in one batch
inline constexpr size_t kMaxDeviceIdBytes = 128;

// One bad line (line 0: the file as a whole), as `manifest import` prints it on stderr.
struct ManifestProblem {
  int line = 0;
  std::string message;
};

struct ParsedManifest {
  std::vector<db::ManifestRow> rows;  // each with its line; fingerprints lowercased
  std::vector<ManifestProblem> problems;  // empty: every row is good; else every bad line
};

// JSON when the first byte that is not whitespace (after an optional UTF-8 BOM) is '[', else
// CSV. A row is good when its device id is 1-128 bytes of printable ASCII (0x20-0x7E) without
// ',', '"' or '\' and without a space at either end, and its bootstrap_sha256 is 64 hex digits
// (either case). CSV: the first line is exactly the header, each later line `ID,HEX` (CRLF
// accepted; empty lines skipped). JSON: an array of objects with exactly the keys device_id and
// bootstrap_sha256, both strings, nothing nested; a row's line is the line of its '{'. A device
// id or fingerprint listed twice is a bad line naming the first. At least one row.
ParsedManifest ParseManifest(std::string_view text);

}  // namespace provisiond
