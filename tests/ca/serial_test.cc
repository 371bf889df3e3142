// serial_test.cc — the serials provisiond draws, at scale: 100,000 from four threads (each with its
// own system-seeded DRBG, as each worker has): no duplicates, positive, at most 20 octets, and
// every free bit position near 50 % ones.
#include <doctest/doctest.h>

#include <array>
#include <set>
#include <thread>
#include <vector>

#include "ca/rng.h"
#include "ca/signer.h"

TEST_CASE("100,000 serials from four workers: unique, positive, <= 20 octets, unbiased bits") {
  constexpr int kThreads = 4, kPerThread = 25000, kLen = 16;
  std::vector<std::vector<base::Bytes>> drawn(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&drawn, t] {
      auto drbg = ca::Drbg::FromSystemEntropy();
      if (!drbg) return;
      for (int i = 0; i < kPerThread; ++i) {
        auto s = ca::RandomSerial((*drbg)->rng(), kLen);
        if (s) drawn[t].push_back(std::move(*s));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<base::Bytes> unique;
  std::array<int, kLen * 8> ones{};
  for (const auto& batch : drawn) {
    REQUIRE(batch.size() == kPerThread);
    for (const auto& s : batch) {
      REQUIRE(s.size() == kLen);           // <= 20 octets, and exactly what we asked for
      REQUIRE(s[0] >= 0x01);               // minimal DER: no leading zero octet
      REQUIRE(s[0] <= 0x7f);               // positive INTEGER
      unique.insert(s);
      for (int bit = 0; bit < kLen * 8; ++bit) ones[bit] += (s[bit / 8] >> (7 - bit % 8)) & 1;
    }
  }
  CHECK(unique.size() == kThreads * kPerThread);
  const double n = kThreads * kPerThread;
  // Bit 0 (the sign bit) is always 0. Every other position: 50 % +- 1 % (6 standard deviations
  // at n = 100,000); the first octet's remaining bits lose only 1/128 to the "not zero" redraw.
  CHECK(ones[0] == 0);
  for (int bit = 1; bit < kLen * 8; ++bit) {
    INFO("bit " << bit << ": " << ones[bit] / n);
    CHECK(ones[bit] / n > 0.49);
    CHECK(ones[bit] / n < 0.51);
  }
}
