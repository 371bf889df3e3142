// heap_return.cc — the drained-burst policy of heap_return.h and the malloc_trim call.
#include "daemon/heap_return.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>

namespace provisiond {
namespace {

// Resident bytes of this process (/proc/self/statm's second field), or -1.
int64_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "re");
  if (f == nullptr) return -1;
  long size = 0;
  long resident = -1;
  const int read = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  if (read != 2 || resident < 0) return -1;
  return static_cast<int64_t>(resident) * ::sysconf(_SC_PAGESIZE);
}

}  // namespace

bool HeapReturn::Due(int open, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (open > peak_) peak_ = open;
  if (open > peak_ / 4) {
    drained_since_.reset();
    return false;
  }
  if (!drained_since_) drained_since_ = now;
  if (now - *drained_since_ < quiet_) return false;
  if (closed_.load(std::memory_order_relaxed) < min_closed_) return false;
  closed_.store(0, std::memory_order_relaxed);
  peak_ = open;
  drained_since_.reset();
  returns_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

int64_t ReturnFreeHeap() {
  const int64_t before = ResidentBytes();
  malloc_trim(0);
  const int64_t after = ResidentBytes();
  return before < 0 || after < 0 ? 0 : before - after;
}

}  // namespace provisiond
