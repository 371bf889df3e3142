// scheduling.cc — the worker choice and the ready order of daemon/scheduling.h.
#include "daemon/scheduling.h"

#include <algorithm>

namespace provisiond {

size_t PickWorker(std::span<const int> loads, size_t self) {
  size_t best = self;
  for (size_t i = 0; i < loads.size(); ++i) {
    if (loads[i] < loads[best]) best = i;
  }
  return best;
}

void ReadyOrder::Take() {
  std::sort(under_way_.begin(), under_way_.end());
  std::sort(fresh_.begin(), fresh_.end());
  taken_.clear();
  taken_.insert(taken_.end(), under_way_.begin(), under_way_.end());
  taken_.insert(taken_.end(), fresh_.begin(), fresh_.end());
  under_way_.clear();
  fresh_.clear();
}

}  // namespace provisiond
