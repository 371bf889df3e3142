// der_test.cc — the token's raw signature r||s into DER (leading zeros dropped, a 0x00 before a
// high bit) and CKA_EC_POINT into a SubjectPublicKeyInfo, checked byte for byte.
#include <doctest/doctest.h>

#include <array>

#include "ca/keys.h"
#include "ca/rng.h"
#include "ca/token/impl.h"

namespace ca::token {
namespace {

std::array<unsigned char, 64> Raw(unsigned char r0, unsigned char r1, unsigned char s0,
                                  unsigned char s1) {
  std::array<unsigned char, 64> raw{};
  raw.fill(0x11);
  raw[0] = r0;
  raw[1] = r1;
  raw[32] = s0;
  raw[33] = s1;
  return raw;
}

}  // namespace

TEST_CASE("EcdsaSignatureDer: plain, high-bit and leading-zero integers") {
  auto plain = EcdsaSignatureDer(Raw(0x12, 0x34, 0x56, 0x78));
  REQUIRE(plain.size() == 2 + 34 + 34);
  CHECK(plain[0] == 0x30);
  CHECK(plain[1] == 68);
  CHECK(plain[2] == 0x02);
  CHECK(plain[3] == 32);
  CHECK(plain[4] == 0x12);

  auto high = EcdsaSignatureDer(Raw(0x80, 0x00, 0xFF, 0x01));
  REQUIRE(high.size() == 2 + 35 + 35);
  CHECK(high[1] == 70);
  CHECK(high[3] == 33);
  CHECK(high[4] == 0x00);
  CHECK(high[5] == 0x80);
  CHECK(high[2 + 35 + 1] == 33);
  CHECK(high[2 + 35 + 2] == 0x00);
  CHECK(high[2 + 35 + 3] == 0xFF);

  // r = 0x00 0x80 ...: the zero goes, and comes back as the sign byte; s = 0x00 0x00 0x11...
  auto zeros = EcdsaSignatureDer(Raw(0x00, 0x80, 0x00, 0x00));
  CHECK(zeros[3] == 32);
  CHECK(zeros[4] == 0x00);
  CHECK(zeros[5] == 0x80);
  CHECK(zeros[2 + 34] == 0x02);
  CHECK(zeros[2 + 34 + 1] == 30);
  CHECK(zeros[2 + 34 + 2] == 0x11);
  CHECK(zeros[1] == zeros.size() - 2);
}

TEST_CASE("SpkiFromEcPoint accepts the DER OCTET STRING and the bare point") {
  auto drbg = Drbg::ForTesting(std::array<unsigned char, 3>{7, 7, 7});
  auto key = PrivateKey::GenerateP256(drbg->rng());
  REQUIRE(key.has_value());
  auto spki = (*key)->PublicKeyDer();
  REQUIRE(spki.has_value());
  REQUIRE(spki->size() == 91);
  const base::Bytes point(spki->end() - 65, spki->end());
  base::Bytes octet_string = {0x04, 0x41};
  octet_string.insert(octet_string.end(), point.begin(), point.end());
  auto from_octet_string = SpkiFromEcPoint(octet_string);
  REQUIRE(from_octet_string.has_value());
  CHECK(*from_octet_string == *spki);
  auto from_point = SpkiFromEcPoint(point);
  REQUIRE(from_point.has_value());
  CHECK(*from_point == *spki);
  base::Bytes off_curve = point;
  off_curve.back() ^= 1;
  CHECK(SpkiFromEcPoint(off_curve).error().code == Code::kUnsupportedKey);
  base::Bytes compressed(point.begin(), point.begin() + 33);
  compressed[0] = 0x02;
  CHECK(SpkiFromEcPoint(compressed).error().code == Code::kUnsupportedKey);
}

}  // namespace ca::token
