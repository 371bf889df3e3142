// error_test.cc — ca's PKI error codes and their conversion to a general base::Error.
#include "ca/error.h"

#include <doctest/doctest.h>

#include <string>

TEST_CASE("a PKI failure reported as a general error keeps its detail") {
  const ca::Error malformed{ca::Code::kMalformed, "server.crt: no certificate"};
  const base::Error general = ca::ToBaseError(malformed);
  CHECK(general.code == base::Code::kMalformed);
  CHECK(general.detail == "server.crt: no certificate");
  // Nothing the caller passed is at fault when mbedTLS itself fails.
  CHECK(ca::ToBaseError({ca::Code::kCrypto, "rng"}).code == base::Code::kInternal);
  CHECK(ca::ToBaseError({ca::Code::kPolicy, "p"}).code == base::Code::kInvalidArgument);
  CHECK(ca::ToBaseError({ca::Code::kUnsupportedKey, "k"}).code == base::Code::kInvalidArgument);
}

TEST_CASE("ca's own Fail builds a ca::Error") {
  ca::Result<int> r = ca::Fail(ca::Code::kBadSignature, "no proof of possession");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ca::Code::kBadSignature);
  CHECK(std::string(ca::CodeName(r.error().code)) == "bad_signature");
}
