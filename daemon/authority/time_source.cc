// time_source.cc — the system clock behind provisiond::TimeSource (see time_source.h).
#include "daemon/authority/time_source.h"

#include <ctime>

namespace provisiond {
namespace {

class SystemClock final : public TimeSource {
 public:
  base::UnixTime Now() const override { return static_cast<base::UnixTime>(std::time(nullptr)); }
  Monotonic Steady() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace

const TimeSource& TimeSource::System() {
  static const SystemClock clock;
  return clock;
}

}  // namespace provisiond
