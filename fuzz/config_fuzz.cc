// config_fuzz.cc — the daemon's own value parsers for configuration: durations, rate limits and
// labelled certificate profiles (as given on the command line or in the config file).
#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/authority/rate_limiter.h"
#include "daemon/config.h"
#include "daemon/profiles.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  if (auto d = provisiond::ParseDuration(text); d && d->count() <= 0) __builtin_trap();
  if (auto r = provisiond::ParseRateSpec(text); r && r->burst > 0 && r->period.count() <= 0) {
    __builtin_trap();
  }
  provisiond::ProfileOptions options;
  options.labeled = {text};
  provisiond::ServeConfig config;
  if (provisiond::ApplyProfileOptions(options, config)) {
    for (const auto& [label, profile] : config.labeled_profiles) {
      if (label.empty() || profile.validity_seconds <= 0) __builtin_trap();
    }
  }
  return 0;
}
