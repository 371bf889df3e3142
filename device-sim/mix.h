// mix.h — the scenario classes of a fleet run (good devices and bad actors), the --mix weights,
// and the deterministic schedule that gives every enrollment slot its class.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace devsim {

enum class Scenario {
  kGood,     // bootstrap (or operational) certificate, fresh key: a certificate is issued
  kRogueCa,  // client certificate from a CA the server does not trust
  kNoCert,   // no client certificate at all
  kExpired,  // bootstrap certificate from the real factory CA, but expired
  kBadCsr,   // good client certificate, CSR whose signature does not verify
  kReplay,   // a device that already got its certificate enrolls again with another key
};
inline constexpr size_t kScenarioCount = 6;
inline constexpr std::array<Scenario, kScenarioCount> kAllScenarios = {
    Scenario::kGood,    Scenario::kRogueCa, Scenario::kNoCert,
    Scenario::kExpired, Scenario::kBadCsr,  Scenario::kReplay};

inline size_t Index(Scenario s) { return static_cast<size_t>(s); }

// "good", "rogue-ca", "no-cert", "expired", "bad-csr", "replay".
const char* ScenarioName(Scenario s);
std::optional<Scenario> ParseScenario(std::string_view name);

// Relative weight per scenario, indexed by Index(scenario).
using MixWeights = std::array<int, kScenarioCount>;
inline constexpr int kMaxMixTotal = 100000;
inline constexpr MixWeights kDefaultMix = {100, 0, 0, 0, 0, 0};

// Parses "good=90,rogue-ca=3,...": comma-separated NAME=WEIGHT, each name at most once, weights
// decimal 0..kMaxMixTotal, sum 1..kMaxMixTotal; unnamed classes weigh 0. kInvalidArgument with a
// message naming the offending item.
base::Result<MixWeights> ParseMix(std::string_view text);

// The canonical form of a mix: nonzero weights in enum order, e.g. "good=90,replay=1".
std::string FormatMix(const MixWeights& weights);

// Smooth weighted round-robin (nginx's upstream balancer): in every window of total-weight
// consecutive slots starting at a multiple of it, each class gets exactly its weight, spread
// as evenly as the weights allow. So 200 slots of good=80,...,replay=2 hold exactly 160 good and
// 4 replay, whatever the thread timing.
class MixSchedule {
 public:
  explicit MixSchedule(const MixWeights& weights);
  Scenario At(uint64_t slot) const { return period_[slot % period_.size()]; }
  size_t period() const { return period_.size(); }

 private:
  std::vector<Scenario> period_;
};

// How many of the first `slots` slots go to each class.
std::array<uint64_t, kScenarioCount> PlannedCounts(const MixSchedule& schedule, uint64_t slots);

}  // namespace devsim
