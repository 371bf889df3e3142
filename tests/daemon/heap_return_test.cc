// heap_return_test.cc — when the daemon returns free heap after a burst of connections, and that
// returning it gives resident pages back (daemon/heap_return.h).
#include "daemon/heap_return.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

using namespace provisiond;
using std::chrono::milliseconds;

namespace {

using Clock = HeapReturn::Clock;

// Keeps the compiler from eliding a malloc/free pair whose memory is never read.
[[maybe_unused]] void Escape(void* p) { asm volatile("" : : "r"(p) : "memory"); }

}  // namespace

TEST_CASE("HeapReturn: a burst that drains is returned once, after the quiet time") {
  HeapReturn policy(64, milliseconds(1000));
  const auto t0 = Clock::now();
  CHECK_FALSE(policy.Due(256, t0));  // the burst: 256 open
  policy.NoteClosed(300);
  CHECK_FALSE(policy.Due(100, t0 + milliseconds(100)));  // still above a quarter of the peak
  CHECK_FALSE(policy.Due(0, t0 + milliseconds(200)));    // drained, not quiet yet
  CHECK_FALSE(policy.Due(0, t0 + milliseconds(1100)));
  CHECK(policy.Due(0, t0 + milliseconds(1200)));  // drained for 1 s
  CHECK(policy.returns() == 1);
  CHECK_FALSE(policy.Due(0, t0 + milliseconds(2300)));  // once per burst: nothing closed since
  CHECK_FALSE(policy.Due(0, t0 + milliseconds(5000)));
  CHECK(policy.returns() == 1);
}

TEST_CASE("HeapReturn: a steady load is never trimmed") {
  HeapReturn policy(64, milliseconds(1000));
  const auto t0 = Clock::now();
  for (int i = 0; i < 600; ++i) {  // a minute of sweeps, 64 open, connections closing throughout
    policy.NoteClosed(10);
    CHECK_FALSE(policy.Due(60 + i % 5, t0 + milliseconds(100 * i)));
  }
  CHECK(policy.returns() == 0);
}

TEST_CASE("HeapReturn: traffic that comes back before the quiet time restarts it") {
  HeapReturn policy(64, milliseconds(1000));
  const auto t0 = Clock::now();
  CHECK_FALSE(policy.Due(200, t0));
  policy.NoteClosed(200);
  CHECK_FALSE(policy.Due(10, t0 + milliseconds(100)));   // drained from here
  CHECK_FALSE(policy.Due(120, t0 + milliseconds(900)));  // a second wave
  CHECK_FALSE(policy.Due(10, t0 + milliseconds(1200)));  // drained again from here
  CHECK_FALSE(policy.Due(10, t0 + milliseconds(2100)));
  CHECK(policy.Due(10, t0 + milliseconds(2200)));
}

TEST_CASE("HeapReturn: a trickle returns once per min_closed connections") {
  HeapReturn policy(64, milliseconds(1000));
  const auto t0 = Clock::now();
  // One enrollment every 3 s: a connection open at a sweep, closed, then two quiet sweeps.
  auto enrollment = [&](int i) {
    const auto at = t0 + milliseconds(3000 * i);
    CHECK_FALSE(policy.Due(1, at));
    policy.NoteClosed();
    CHECK_FALSE(policy.Due(0, at + milliseconds(1000)));  // drained from here
    return policy.Due(0, at + milliseconds(2000));        // and quiet
  };
  for (int i = 0; i < 63; ++i) CHECK_FALSE(enrollment(i));
  CHECK(enrollment(63));  // the 64th
  CHECK_FALSE(enrollment(64));
  CHECK(policy.returns() == 1);
}

#if !defined(__SANITIZE_ADDRESS__)  // AddressSanitizer's allocator ignores malloc_trim
TEST_CASE("ReturnFreeHeap gives back free chunks held between live ones in a thread's arena") {
  constexpr int kBlocks = 2000;
  constexpr size_t kBlock = 8192;  // under glibc's mmap threshold: from the thread's arena
  std::vector<void*> pins;
  std::thread([&] {
    std::vector<void*> blocks;
    for (int i = 0; i < kBlocks; ++i) {
      void* block = std::malloc(kBlock);
      std::memset(block, 0x5a, kBlock);  // resident
      Escape(block);
      blocks.push_back(block);
      pins.push_back(std::malloc(64));  // a live chunk after each block: no coalescing to the top
      Escape(pins.back());
    }
    for (void* block : blocks) std::free(block);
  }).join();
  // At least one whole page inside each free 8 KiB chunk goes back: 2000 pages, 7.8 MiB.
  const int64_t returned = ReturnFreeHeap();
  CHECK(returned >= int64_t{kBlocks} * 4096);
  for (void* pin : pins) std::free(pin);
}
#endif
