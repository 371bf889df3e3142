// csrattrs_response_test.cc — the CsrAttrs DER served on EST's /csrattrs.
#include "ca/csrattrs_response.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "base/types.h"

namespace {

const std::string kChallenge("\x2a\x86\x48\x86\xf7\x0d\x01\x09\x07", 9);  // challengePassword

}  // namespace

TEST_CASE("csrattrs announces challengePassword only when asked") {
  base::Bytes plain = ca::CsrAttrsP256(false);
  base::Bytes with = ca::CsrAttrsP256(true);
  auto contains = [](const base::Bytes& hay, const std::string& oid) {
    const base::Bytes needle(oid.begin(), oid.end());  // compare bytes, not signed chars
    return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
  };
  CHECK_FALSE(contains(plain, kChallenge));
  CHECK(contains(with, kChallenge));
  CHECK(with.size() == plain.size() + 11);
  CHECK(plain[0] == 0x30);
  CHECK(plain[1] == plain.size() - 2);
}
