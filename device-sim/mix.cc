// mix.cc — scenario names, --mix parsing and the smooth weighted round-robin schedule.
#include "device-sim/mix.h"

#include <charconv>

namespace devsim {

namespace {
constexpr std::array<const char*, kScenarioCount> kNames = {"good",    "rogue-ca", "no-cert",
                                                            "expired", "bad-csr",  "replay"};
}  // namespace

const char* ScenarioName(Scenario s) { return kNames[Index(s)]; }

std::optional<Scenario> ParseScenario(std::string_view name) {
  for (Scenario s : kAllScenarios) {
    if (name == kNames[Index(s)]) return s;
  }
  return std::nullopt;
}

base::Result<MixWeights> ParseMix(std::string_view text) {
  MixWeights weights{};
  std::array<bool, kScenarioCount> seen{};
  long total = 0;
  if (text.empty()) return base::Fail(base::Code::kInvalidArgument, "empty mix");
  while (true) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return base::Fail(base::Code::kInvalidArgument,
                        "mix item '" + std::string(item) + "' is not NAME=WEIGHT");
    }
    const auto scenario = ParseScenario(item.substr(0, eq));
    if (!scenario) {
      return base::Fail(base::Code::kInvalidArgument,
                        "unknown class '" + std::string(item.substr(0, eq)) +
                            "' (good, rogue-ca, no-cert, expired, bad-csr, replay)");
    }
    const std::string_view number = item.substr(eq + 1);
    int weight = -1;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), weight);
    if (number.empty() || ec != std::errc() || end != number.data() + number.size() || weight < 0 ||
        weight > kMaxMixTotal) {
      return base::Fail(
          base::Code::kInvalidArgument,
          "weight of '" + std::string(item) + "' must be 0.." + std::to_string(kMaxMixTotal));
    }
    if (seen[Index(*scenario)]) {
      return base::Fail(base::Code::kInvalidArgument,
                        "class '" + std::string(ScenarioName(*scenario)) + "' named twice");
    }
    seen[Index(*scenario)] = true;
    weights[Index(*scenario)] = weight;
    total += weight;
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  if (total < 1 || total > kMaxMixTotal) {
    return base::Fail(base::Code::kInvalidArgument,
                      "mix weights must add up to 1.." + std::to_string(kMaxMixTotal));
  }
  return weights;
}

std::string FormatMix(const MixWeights& weights) {
  std::string out;
  for (Scenario s : kAllScenarios) {
    if (weights[Index(s)] == 0) continue;
    if (!out.empty()) out += ',';
    out += std::string(ScenarioName(s)) + "=" + std::to_string(weights[Index(s)]);
  }
  return out;
}

MixSchedule::MixSchedule(const MixWeights& weights) {
  int total = 0;
  for (int w : weights) total += w;
  if (total <= 0) {  // ParseMix never yields this; be total anyway
    period_.push_back(Scenario::kGood);
    return;
  }
  // Each round every class gains its weight; the richest is picked and pays the total.
  std::array<long, kScenarioCount> current{};
  period_.reserve(static_cast<size_t>(total));
  for (int slot = 0; slot < total; ++slot) {
    size_t best = 0;
    for (size_t i = 0; i < kScenarioCount; ++i) {
      current[i] += weights[i];
      if (current[i] > current[best]) best = i;
    }
    current[best] -= total;
    period_.push_back(kAllScenarios[best]);
  }
}

std::array<uint64_t, kScenarioCount> PlannedCounts(const MixSchedule& schedule, uint64_t slots) {
  std::array<uint64_t, kScenarioCount> per_period{};
  std::array<uint64_t, kScenarioCount> counts{};
  const uint64_t period = schedule.period();
  for (uint64_t i = 0; i < period; ++i) ++per_period[Index(schedule.At(i))];
  for (size_t i = 0; i < kScenarioCount; ++i) counts[i] = per_period[i] * (slots / period);
  for (uint64_t i = 0; i < slots % period; ++i) ++counts[Index(schedule.At(i))];
  return counts;
}

}  // namespace devsim
