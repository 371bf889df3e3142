// secret_test.cc — base::Secret: its page is left out of core dumps, files are read with limits and
// the trailing newline dropped, errors name the path and never the content.
#include "base/secret.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string AsString(const base::Secret& secret) {
  return std::string(reinterpret_cast<const char*>(secret.data()), secret.size());
}

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

struct TempFile {
  std::filesystem::path path;
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/secret_test_XXXXXX";
    const int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    ::close(fd);
    path = name;
  }
  ~TempFile() { std::filesystem::remove(path); }
};

}  // namespace

TEST_CASE("Secret::From copies the value into a page left out of core dumps") {
  auto secret = base::Secret::From("1234-pin");
  REQUIRE(secret.has_value());
  CHECK(AsString(*secret) == "1234-pin");
  const std::string flags = VmFlagsOf(secret->data());
  INFO(flags);
  CHECK(flags.find(" dd") != std::string::npos);                        // MADV_DONTDUMP
  // mlock'ed when root (no RLIMIT_MEMLOCK). AddressSanitizer intercepts mlock and does nothing.
#if !defined(__SANITIZE_ADDRESS__)
  if (::geteuid() == 0) CHECK(flags.find(" lo") != std::string::npos);
#endif
}

TEST_CASE("Secret::From refuses a value over kMaxBytes") {
  CHECK(base::Secret::From(std::string(base::Secret::kMaxBytes, 'x')).has_value());
  auto too_long = base::Secret::From(std::string(base::Secret::kMaxBytes + 1, 'x'));
  REQUIRE_FALSE(too_long.has_value());
  CHECK(too_long.error().code == base::Code::kInvalidArgument);
}

TEST_CASE("Secret moves hand the page over and unmap it when dropped") {
  auto first = base::Secret::From("alpha");
  REQUIRE(first.has_value());
  const unsigned char* page = first->data();
  base::Secret moved = std::move(*first);
  CHECK(first->data() == nullptr);
  CHECK(first->empty());
  CHECK(moved.data() == page);
  CHECK(AsString(moved) == "alpha");
  moved = base::Secret();
  CHECK(moved.data() == nullptr);
  CHECK(VmFlagsOf(page).empty());  // unmapped
}

TEST_CASE("Secret::ReadFile drops one trailing newline or CRLF") {
  TempFile lf("s3cret\n"), crlf("s3cret\r\n"), bare("s3cret"), two("s3cret\n\n");
  CHECK(AsString(*base::Secret::ReadFile(lf.path.c_str())) == "s3cret");
  CHECK(AsString(*base::Secret::ReadFile(crlf.path.c_str())) == "s3cret");
  CHECK(AsString(*base::Secret::ReadFile(bare.path.c_str())) == "s3cret");
  CHECK(AsString(*base::Secret::ReadFile(two.path.c_str())) == "s3cret\n");
  auto read = base::Secret::ReadFile(lf.path.c_str());
  CHECK(VmFlagsOf(read->data()).find(" dd") != std::string::npos);
}

TEST_CASE("Secret::ReadFile refuses empty, too long and missing files, naming only the path") {
  TempFile empty(""), newline_only("\n"), at_limit(std::string(base::Secret::kMaxBytes, 'p'));
  TempFile too_long(std::string(base::Secret::kMaxBytes + 1, 'q'));
  CHECK(base::Secret::ReadFile(at_limit.path.c_str())->size() == base::Secret::kMaxBytes);
  for (const auto* file : {&empty, &newline_only, &too_long}) {
    auto result = base::Secret::ReadFile(file->path.c_str());
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == base::Code::kIo);
    CHECK(result.error().detail.find(file->path.string()) != std::string::npos);
    CHECK(result.error().detail.find("qqqq") == std::string::npos);
  }
  auto missing = base::Secret::ReadFile("/nonexistent/token.pin");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == base::Code::kIo);
  CHECK(missing.error().detail.find("/nonexistent/token.pin") != std::string::npos);
}
