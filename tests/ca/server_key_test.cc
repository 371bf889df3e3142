// server_key_test.cc — ca/server_key: the generated key's PKCS#8 encoding (parsed back, its
// fields checked byte for byte), fresh keys, and base64 written in place in lines of 64.
#include "ca/server_key.h"

#include <doctest/doctest.h>

#include <string>

#include "ca/encoding.h"
#include "ca/keys.h"
#include "tests/ca/test_util.h"

namespace {

std::unique_ptr<ca::Drbg> TestDrbg() {
  const unsigned char seed[] = "server_key_test";
  return ca::Drbg::ForTesting(seed);
}

}  // namespace

TEST_CASE("Pkcs8Der writes a PrivateKeyInfo for id-ecPublicKey/prime256v1 that parses back") {
  auto drbg = TestDrbg();
  auto key = catest::NewP256(drbg->rng());
  auto pkcs8 = ca::Pkcs8Der(*key->pk());
  REQUIRE(pkcs8.has_value());
  const std::string_view der = pkcs8->view();
  // SEQUENCE { INTEGER 0, SEQUENCE { OID 1.2.840.10045.2.1, OID 1.2.840.10045.3.1.7 }, OCTET STRING
  const std::string head("\x02\x01\x00\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01"
                         "\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07\x04",
                         25);
  REQUIRE(der.size() > 130);  // ~150 bytes: the outer length takes the long form 0x81 nn
  CHECK(static_cast<unsigned char>(der[0]) == 0x30);
  CHECK(static_cast<unsigned char>(der[1]) == 0x81);
  CHECK(static_cast<size_t>(static_cast<unsigned char>(der[2])) + 3 == der.size());
  CHECK(der.substr(3, head.size()) == head);
  auto parsed = ca::PrivateKey::Parse(der, drbg->rng());
  REQUIRE_MESSAGE(parsed.has_value(), parsed.error().detail);
  CHECK(catest::PublicDer(*(*parsed)->pk()) == catest::PublicDer(*key->pk()));
  // The private scalar itself, not just the public half: both keys sign what the other verifies.
  CHECK(mbedtls_pk_check_pair(key->pk(), (*parsed)->pk(), drbg->rng().fill,
                              drbg->rng().state) == 0);
}

TEST_CASE("GenerateServerKey makes a fresh P-256 key each time and exports its public half") {
  auto drbg = TestDrbg();
  auto one = ca::GenerateServerKey(drbg->rng());
  auto two = ca::GenerateServerKey(drbg->rng());
  REQUIRE(one.has_value());
  REQUIRE(two.has_value());
  CHECK(one->public_key_der != two->public_key_der);
  CHECK(one->pkcs8_der.view() != two->pkcs8_der.view());
  auto parsed = ca::PrivateKey::Parse(one->pkcs8_der.view(), drbg->rng());
  REQUIRE(parsed.has_value());
  CHECK(catest::PublicDer(*(*parsed)->pk()) == one->public_key_der);
}

TEST_CASE("AppendBase64Lines writes 64-character CRLF lines that decode back, or nothing") {
  base::Bytes data(100);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 7);
  auto out = base::SecretBuffer::Create(ca::Base64LinesSize(data.size()));
  REQUIRE(out.has_value());
  REQUIRE(ca::AppendBase64Lines(*out, data).has_value());
  const std::string text(out->view());
  CHECK(text.substr(64, 2) == "\r\n");
  CHECK(text.substr(130, 2) == "\r\n");
  CHECK(text.ends_with("\r\n"));
  CHECK(text.size() == 136 + 6);  // 100 bytes: 136 characters in lines of 64, 64 and 8
  CHECK(ca::Base64Encode(data, false) == std::string(text.substr(0, 64)) +
                                             text.substr(66, 64) + text.substr(132, 8));
  auto small = base::SecretBuffer::Create(ca::Base64LinesSize(data.size()) - 1);
  REQUIRE(small.has_value());
  CHECK_FALSE(ca::AppendBase64Lines(*small, data).has_value());
  CHECK(small->empty());
}
