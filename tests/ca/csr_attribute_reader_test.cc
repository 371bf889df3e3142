// csr_attribute_reader_test.cc — challengePassword extraction from CertificationRequestInfo.
#include "ca/csr_attribute_reader.h"

#include <doctest/doctest.h>
#include <mbedtls/asn1write.h>

#include <string>

#include "base/types.h"

namespace {

// Builds CRI = SEQ { INTEGER 0, SEQ {}, SEQ {}, [0] { attrs... } } with each attribute given as
// (oid bytes, DER of its SET of values).
base::Bytes Cri(const std::vector<std::pair<std::string, base::Bytes>>& attrs,
                bool with_attrs = true) {
  base::Bytes body = {0x02, 0x01, 0x00, 0x30, 0x00, 0x30, 0x00};
  if (with_attrs) {
    base::Bytes inner;
    for (const auto& [oid, values] : attrs) {
      base::Bytes a = {0x06, static_cast<unsigned char>(oid.size())};
      a.insert(a.end(), oid.begin(), oid.end());
      a.insert(a.end(), values.begin(), values.end());
      inner.push_back(0x30);
      inner.push_back(static_cast<unsigned char>(a.size()));
      inner.insert(inner.end(), a.begin(), a.end());
    }
    body.push_back(0xa0);
    body.push_back(static_cast<unsigned char>(inner.size()));
    body.insert(body.end(), inner.begin(), inner.end());
  }
  base::Bytes cri = {0x30, static_cast<unsigned char>(body.size())};
  cri.insert(cri.end(), body.begin(), body.end());
  return cri;
}

const std::string kChallenge("\x2a\x86\x48\x86\xf7\x0d\x01\x09\x07", 9);
const std::string kExtReq("\x2a\x86\x48\x86\xf7\x0d\x01\x09\x0e", 9);

base::Bytes StringSet(unsigned char tag, const std::string& v) {
  base::Bytes s = {0x31, static_cast<unsigned char>(v.size() + 2), tag,
                   static_cast<unsigned char>(v.size())};
  s.insert(s.end(), v.begin(), v.end());
  return s;
}

}  // namespace

TEST_CASE("challengePassword is read from the CSR attributes") {
  auto r = ca::ChallengePassword(Cri({{kExtReq, {0x31, 0x02, 0x30, 0x00}},
                                      {kChallenge, StringSet(0x0c, "tls-exporter-value")}}));
  REQUIRE(r);
  REQUIRE(r->has_value());
  CHECK(**r == "tls-exporter-value");
  auto printable = ca::ChallengePassword(Cri({{kChallenge, StringSet(0x13, "abc")}}));
  REQUIRE(printable);
  CHECK(printable->value() == "abc");
}

TEST_CASE("a CSR without attributes has no challengePassword") {
  auto none = ca::ChallengePassword(Cri({}, false));
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  auto other = ca::ChallengePassword(Cri({{kExtReq, {0x31, 0x02, 0x30, 0x00}}}));
  REQUIRE(other);
  CHECK_FALSE(other->has_value());
}

TEST_CASE("malformed challengePassword attributes are refused") {
  // Repeated attribute.
  CHECK_FALSE(ca::ChallengePassword(Cri({{kChallenge, StringSet(0x0c, "a")},
                                         {kChallenge, StringSet(0x0c, "b")}})));
  // Two values in the SET.
  base::Bytes two = {0x31, 0x06, 0x0c, 0x01, 'a', 0x0c, 0x01, 'b'};
  CHECK_FALSE(ca::ChallengePassword(Cri({{kChallenge, two}})));
  // Not a string.
  base::Bytes integer = {0x31, 0x03, 0x02, 0x01, 0x05};
  CHECK_FALSE(ca::ChallengePassword(Cri({{kChallenge, integer}})));
  // Empty SET.
  CHECK_FALSE(ca::ChallengePassword(Cri({{kChallenge, {0x31, 0x00}}})));
  // Truncated CRI.
  auto cri = Cri({{kChallenge, StringSet(0x0c, "abc")}});
  cri.pop_back();
  CHECK_FALSE(ca::ChallengePassword(cri));
}
