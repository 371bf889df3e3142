// pkcs7_test.cc — the certs-only PKCS#7 EST sends: round trip, the exact encoding (built here
// independently), and rejection of everything that is not that shape. (mbedTLS's own PKCS#7
// parser cannot serve as a cross-check: it requires exactly one digest algorithm and signer.)
#include "ca/pkcs7.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "tests/ca/test_util.h"

namespace {

std::vector<base::Bytes> SomeCerts(size_t n, ca::Rng rng) {
  std::vector<base::Bytes> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(catest::MakeCa(rng, catest::kNow + catest::kDay, "CN=c" + std::to_string(i)).der);
  }
  return out;
}

// A minimal DER builder, independent of the code under test (with catest::Tlv).
using catest::Tlv;

base::Bytes Cat(std::initializer_list<base::Bytes> parts) {
  base::Bytes out;
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}
const base::Bytes kOidSignedData = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                    0xf7, 0x0d, 0x01, 0x07, 0x02};
const base::Bytes kOidData = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};

struct Shape {
  base::Bytes version = {0x02, 0x01, 0x01};
  base::Bytes encap = Tlv(0x30, kOidData);
  base::Bytes certs_field;  // the whole [0] field, or empty to omit it
  base::Bytes extra;        // e.g. a crls [1] field
  base::Bytes signer_infos = Tlv(0x31, {});
};
base::Bytes Build(const Shape& s) {
  const base::Bytes signed_data =
      Tlv(0x30, Cat({s.version, Tlv(0x31, {}), s.encap, s.certs_field, s.extra, s.signer_infos}));
  return Tlv(0x30, Cat({kOidSignedData, Tlv(0xa0, signed_data)}));
}

ca::Code CodeOf(const base::Bytes& der) {
  return catest::FailureCode(ca::ParseCertsOnlyPkcs7(der));
}

}  // namespace

TEST_CASE("certs-only PKCS#7 round-trips 1, 3 and 16 certificates in order") {
  auto drbg = catest::MakeDrbg("pkcs7");
  const auto certs = SomeCerts(16, drbg->rng());
  for (size_t n : {1u, 3u, 16u}) {
    const std::vector<base::Bytes> subset(certs.begin(), certs.begin() + n);
    const base::Bytes p7 = ca::CertsOnlyPkcs7(subset);
    auto parsed = ca::ParseCertsOnlyPkcs7(p7);
    REQUIRE(parsed.has_value());
    CHECK(*parsed == subset);
  }
}

TEST_CASE("the writer emits exactly the RFC 5652 certs-only encoding") {
  auto drbg = catest::MakeDrbg("pkcs7 exact");
  const auto certs = SomeCerts(2, drbg->rng());
  Shape shape;
  shape.certs_field = Tlv(0xa0, Cat({certs[0], certs[1]}));
  CHECK(ca::CertsOnlyPkcs7(certs) == Build(shape));
}

TEST_CASE("ParseCertsOnlyPkcs7 rejects anything else") {
  auto drbg = catest::MakeDrbg("pkcs7 bad");
  const auto certs = SomeCerts(17, drbg->rng());
  const base::Bytes good = ca::CertsOnlyPkcs7(std::span(certs).first(1));

  CHECK(CodeOf({}) == ca::Code::kMalformed);
  CHECK(CodeOf({'g', 'a', 'r', 'b', 'a', 'g', 'e'}) == ca::Code::kMalformed);
  CHECK(CodeOf(certs[0]) == ca::Code::kMalformed);  // a bare certificate
  CHECK(CodeOf(base::Bytes(good.begin(), good.end() - 1)) == ca::Code::kMalformed);
  base::Bytes trailing = good;
  trailing.push_back(0);
  CHECK(CodeOf(trailing) == ca::Code::kMalformed);
  CHECK(CodeOf(ca::CertsOnlyPkcs7(certs)) == ca::Code::kMalformed);  // 17 certificates

  base::Bytes wrong_type = good;  // signedData (...07 02) -> envelopedData (...07 03)
  REQUIRE(wrong_type[14] == 0x02);
  wrong_type[14] = 0x03;
  CHECK(CodeOf(wrong_type) == ca::Code::kMalformed);

  const base::Bytes cert_field = Tlv(0xa0, certs[0]);
  Shape base;
  base.certs_field = cert_field;
  REQUIRE(ca::ParseCertsOnlyPkcs7(Build(base)).has_value());
  std::vector<std::pair<const char*, Shape>> variants(6, {"", base});
  variants[0].first = "version 3";
  variants[0].second.version = {0x02, 0x01, 0x03};
  variants[1].first = "a signer";
  variants[1].second.signer_infos = Tlv(0x31, Tlv(0x30, {0x02, 0x01, 0x01}));
  variants[2].first = "eContent present";
  variants[2].second.encap = Tlv(0x30, Cat({kOidData, Tlv(0xa0, Tlv(0x04, {0x01}))}));
  variants[3].first = "no certificates field";
  variants[3].second.certs_field.clear();
  variants[4].first = "crls present";
  variants[4].second.extra = Tlv(0xa1, {});
  variants[5].first = "a certificate that is not a SEQUENCE";
  variants[5].second.certs_field = Tlv(0xa0, Cat({certs[0], Tlv(0x04, {0x00})}));
  for (const auto& [name, shape] : variants) {
    INFO(name);
    CHECK(CodeOf(Build(shape)) == ca::Code::kMalformed);
  }
}
