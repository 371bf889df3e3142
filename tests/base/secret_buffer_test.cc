// secret_buffer_test.cc — base::SecretBuffer: its pages are left out of core dumps, it never grows
// past its capacity, Wipe zeroes every byte, and a move hands the pages over.
#include "base/secret_buffer.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

// The VmFlags line of the /proc/self/smaps mapping that contains address ("" if none).
std::string VmFlagsOf(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const auto target = reinterpret_cast<uintptr_t>(address);
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2 && line.find('-') < 17) {
      inside = begin <= target && target < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

}  // namespace

TEST_CASE("SecretBuffer pages are left out of core dumps") {
  auto buffer = base::SecretBuffer::Create(10000);
  REQUIRE(buffer.has_value());
  REQUIRE(buffer->Append("private key bytes"));
  const std::string first = VmFlagsOf(buffer->data());
  const std::string last = VmFlagsOf(buffer->data() + 9999);
  INFO(first, " / ", last);
  CHECK(first.find(" dd") != std::string::npos);  // MADV_DONTDUMP
  CHECK(last.find(" dd") != std::string::npos);
}

TEST_CASE("SecretBuffer appends up to its capacity and no further") {
  auto buffer = base::SecretBuffer::Create(8);
  REQUIRE(buffer.has_value());
  CHECK(buffer->Append("12345"));
  CHECK_FALSE(buffer->Append("6789"));  // 9 > 8: nothing appended
  CHECK(buffer->view() == "12345");
  CHECK(buffer->spare() == 3);
  buffer->tail()[0] = 'x';
  CHECK(buffer->Commit(1));
  CHECK_FALSE(buffer->Commit(3));
  CHECK(buffer->view() == "12345x");
  CHECK_FALSE(base::SecretBuffer::Create(0).has_value());
  CHECK_FALSE(base::SecretBuffer::Create(base::SecretBuffer::kMaxCapacity + 1).has_value());
}

TEST_CASE("SecretBuffer::Wipe zeroes every byte it held") {
  auto buffer = base::SecretBuffer::Create(4096);
  REQUIRE(buffer.has_value());
  REQUIRE(buffer->Append(std::string(4096, '\x5a')));
  const unsigned char* pages = buffer->data();
  buffer->Wipe();
  CHECK(buffer->empty());
  size_t nonzero = 0;
  for (size_t i = 0; i < 4096; ++i) nonzero += pages[i] != 0;
  CHECK(nonzero == 0);
}

TEST_CASE("SecretBuffer moves hand the pages over") {
  auto first = base::SecretBuffer::Create(64);
  REQUIRE(first.has_value());
  REQUIRE(first->Append("alpha"));
  const unsigned char* pages = first->data();
  base::SecretBuffer moved = std::move(*first);
  CHECK(first->data() == nullptr);
  CHECK(moved.data() == pages);
  CHECK(moved.view() == "alpha");
}
