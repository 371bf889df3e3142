// error_test.cc — base::Error/Result and ErrorOf for a module's own codes (ca::Error is one).
#include "base/error.h"

#include <doctest/doctest.h>

#include <string>

namespace {

base::Result<int> Half(int n) {
  if (n % 2 != 0) return base::Fail(base::Code::kInvalidArgument, std::to_string(n) + " is odd");
  return n / 2;
}

enum class Other { kOne, kTwo };

base::Result<void, base::ErrorOf<Other>> OtherFails() { return base::Fail(Other::kTwo, "two"); }

}  // namespace

TEST_CASE("Result carries a value or an error with its code and detail") {
  auto ok = Half(8);
  REQUIRE(ok.has_value());
  CHECK(*ok == 4);
  auto bad = Half(7);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == base::Code::kInvalidArgument);
  CHECK(bad.error().detail == "7 is odd");
}

TEST_CASE("Fail builds the error of the code's own type") {
  auto r = OtherFails();
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Other::kTwo);
  CHECK(r.error().detail == "two");
}

TEST_CASE("every base code has a stable name") {
  CHECK(std::string(base::CodeName(base::Code::kInvalidArgument)) == "invalid_argument");
  CHECK(std::string(base::CodeName(base::Code::kIo)) == "io");
  CHECK(std::string(base::CodeName(base::Code::kInternal)) == "internal");
  CHECK(std::string(base::CodeName(base::Code::kMalformed)) == "malformed");
}
