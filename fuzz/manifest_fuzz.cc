// manifest_fuzz.cc — the factory manifest parser (daemon/manifest_file.h) on arbitrary bytes,
// checking its promises: no crash, and every row it keeps is a good one (a device id within its
// bounds, 64 lowercase hex digits, a line number) with no device id or fingerprint twice.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "daemon/manifest_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const provisiond::ParsedManifest parsed = provisiond::ParseManifest(text);
  if (parsed.problems.empty() && parsed.rows.empty()) __builtin_trap();  // "no rows" is a problem
  std::set<std::string> ids, fps;
  for (const auto& row : parsed.rows) {
    if (row.device_id.empty() || row.device_id.size() > provisiond::kMaxDeviceIdBytes) {
      __builtin_trap();
    }
    if (row.bootstrap_sha256.size() != 64 ||
        row.bootstrap_sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
      __builtin_trap();
    }
    if (!ids.insert(row.device_id).second || !fps.insert(row.bootstrap_sha256).second) {
      __builtin_trap();
    }
  }
  if (parsed.rows.size() > provisiond::kMaxManifestRows) __builtin_trap();
  return 0;
}
