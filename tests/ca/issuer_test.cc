// issuer_test.cc — the operational-certificate profile as a relying party sees it, and loading
// the issuing CA.
#include "ca/issuer.h"

#include <doctest/doctest.h>
#include <mbedtls/oid.h>

#include <set>

#include "tests/ca/test_util.h"

namespace {

using catest::kDay;
using catest::kNow;

struct Fixture {
  std::unique_ptr<ca::Drbg> drbg = catest::MakeDrbg("issuer");
  catest::TestCa root = catest::MakeCa(drbg->rng());
  std::unique_ptr<ca::Issuer> issuer;
  std::unique_ptr<ca::PrivateKey> device_key = catest::NewP256(drbg->rng());
  base::Bytes device_spki = catest::PublicDer(*device_key->pk());

  Fixture() {
    auto loaded = ca::Issuer::Load(root.cert_pem, root.key_pem, drbg->rng());
    REQUIRE_MESSAGE(loaded.has_value(), (loaded ? "" : loaded.error().detail));
    issuer = std::move(*loaded);
  }

  ca::IssuedCert Issue(std::string_view id, const ca::Profile& profile = {},
                       base::UnixTime now = kNow) {
    auto issued = issuer->Issue(id, device_spki, profile, now, drbg->rng());
    REQUIRE_MESSAGE(issued.has_value(), (issued ? "" : issued.error().detail));
    return *issued;
  }
};

std::string SanUri(const mbedtls_x509_crt& crt) {
  std::string uri;
  int count = 0;
  for (const mbedtls_x509_sequence* cur = &crt.subject_alt_names; cur != nullptr; cur = cur->next) {
    if (cur->buf.p == nullptr) continue;
    mbedtls_x509_subject_alternative_name san{};
    REQUIRE(mbedtls_x509_parse_subject_alt_name(&cur->buf, &san) == 0);
    ++count;
    if (san.type == MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER) {
      uri.assign(reinterpret_cast<const char*>(san.san.unstructured_name.p),
                 san.san.unstructured_name.len);
    }
    mbedtls_x509_free_subject_alt_name(&san);
  }
  CHECK(count == 1);
  return uri;
}

}  // namespace

TEST_CASE("issued certificate carries exactly the operational profile") {
  Fixture f;
  ca::Profile profile;
  profile.organization = "Acme";
  profile.organizational_unit = "Line 4";
  const ca::IssuedCert issued = f.Issue("dev-1", profile);
  auto chain = catest::Parse(issued.der);
  const mbedtls_x509_crt& crt = *chain->get();
  auto ca_chain = catest::Parse(f.root.der);

  CHECK(crt.version == 3);
  REQUIRE(crt.serial.len == 16);
  CHECK(crt.serial.p[0] >= 0x01);
  CHECK(crt.serial.p[0] <= 0x7f);
  CHECK(ca::DnString(crt.subject) == "CN=dev-1, O=Acme, OU=Line 4");
  CHECK(ca::DnString(crt.issuer) == "CN=Test Root CA, O=provisiond tests");
  CHECK(SanUri(crt) == "urn:provisiond:device:dev-1");

  auto bc = CATEST_EXT(crt, MBEDTLS_OID_BASIC_CONSTRAINTS);
  REQUIRE(bc.has_value());
  CHECK(bc->critical);
  CHECK(mbedtls_x509_crt_get_ca_istrue(&crt) == 0);
  auto ku = CATEST_EXT(crt, MBEDTLS_OID_KEY_USAGE);
  REQUIRE(ku.has_value());
  CHECK(ku->critical);
  CHECK(mbedtls_x509_crt_check_key_usage(&crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) == 0);
  CHECK(mbedtls_x509_crt_check_key_usage(&crt, MBEDTLS_X509_KU_KEY_CERT_SIGN) != 0);
  CHECK(mbedtls_x509_crt_check_extended_key_usage(&crt, MBEDTLS_OID_CLIENT_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) == 0);
  CHECK(mbedtls_x509_crt_check_extended_key_usage(&crt, MBEDTLS_OID_SERVER_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) != 0);
  CHECK(crt.subject_key_id.len == 20);
  const mbedtls_x509_buf& aki = crt.authority_key_id.keyIdentifier;
  REQUIRE(aki.len == ca_chain->get()->subject_key_id.len);
  CHECK(std::memcmp(aki.p, ca_chain->get()->subject_key_id.p, aki.len) == 0);
  CHECK(std::memcmp(crt.subject_key_id.p, aki.p, aki.len) != 0);

  CHECK(ca::ToUnixTime(crt.valid_from) == kNow - 300);
  CHECK(ca::ToUnixTime(crt.valid_to) == kNow + 90 * kDay);
  CHECK(catest::PublicDer(crt.pk) == f.device_spki);
  CHECK(catest::VerifyAgainst(chain->get(), ca_chain->get()) == 0);
}

TEST_CASE("IssuedCert describes the certificate it holds") {
  Fixture f;
  const ca::IssuedCert issued = f.Issue("dev-1");
  auto chain = catest::Parse(issued.der);
  CHECK(issued.serial_hex == ca::CertSerialHex(*chain->get()));
  CHECK(issued.serial_hex.size() == 32);
  CHECK(issued.serial_hex.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(issued.subject == "CN=dev-1");
  CHECK(issued.san == "URI:urn:provisiond:device:dev-1");
  CHECK(issued.not_before == kNow - 300);
  CHECK(issued.not_after == kNow + 90 * kDay);
  CHECK(issued.fingerprint_sha256 == ca::Sha256Hex(issued.der));
  CHECK(issued.public_key_sha256 == ca::Sha256Hex(f.device_spki));
  CHECK(f.issuer->ca_cert_der() == f.root.der);
}

TEST_CASE("SAN URI percent-encodes everything but RFC 3986 unreserved characters") {
  Fixture f;
  CHECK(f.Issue("Dev_1.a~b-C").san == "URI:urn:provisiond:device:Dev_1.a~b-C");
  CHECK(f.Issue("dev 1/x?y#z%").san == "URI:urn:provisiond:device:dev%201%2Fx%3Fy%23z%25");
  ca::Profile profile;
  profile.san_uri_prefix = "https://id.example/d/";
  const ca::IssuedCert issued = f.Issue("a:b", profile);
  CHECK(issued.san == "URI:https://id.example/d/a%3Ab");
  CHECK(SanUri(*catest::Parse(issued.der)->get()) == "https://id.example/d/a%3Ab");
}

TEST_CASE("identity_scope: dnQualifier after CN/O/OU and a scoped SAN; CN stays the bare id") {
  Fixture f;
  ca::Profile profile;
  profile.organizational_unit = "Line A";
  profile.identity_scope = "0123456789abcdef";
  const ca::IssuedCert issued = f.Issue("dev:3", profile);
  CHECK(issued.san == "URI:urn:provisiond:device:0123456789abcdef:dev%3A3");
  auto chain = catest::Parse(issued.der);
  const mbedtls_x509_crt& crt = *chain->get();
  CHECK(ca::DeviceIdOf(crt, ca::IdentitySource::kCommonName) == std::string("dev:3"));
  CHECK(ca::DnAttribute(crt.subject, std::string_view(MBEDTLS_OID_AT_DN_QUALIFIER,
                                                      MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_DN_QUALIFIER)))
            == std::string("0123456789abcdef"));
  CHECK(issued.subject == "CN=dev:3, OU=Line A, dnQualifier=0123456789abcdef");
  // Only lowercase hex: the scope is ours, never a device's text.
  for (const char* bad : {"ABC", "0123,O=x", "g"}) {
    profile.identity_scope = bad;
    auto refused = f.issuer->Issue("dev-3", f.device_spki, profile, kNow, f.drbg->rng());
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == ca::Code::kPolicy);
  }
}

TEST_CASE("nasty device ids come back out of the issued certificate unchanged") {
  Fixture f;
  ca::Profile profile;
  profile.organization = "Acme, Inc.";
  for (const char* id : {"a,b=c+d", "'; DROP TABLE certs; --", "\\", "x\\", " #lead", "trail ",
                         "<>\";", "CN=x,O=y"}) {
    INFO("id: [", id, "]");
    auto chain = catest::Parse(f.Issue(id, profile).der);
    CHECK(ca::DeviceIdOf(*chain->get(), ca::IdentitySource::kCommonName) == std::string(id));
  }
}

TEST_CASE("notAfter is clamped to the CA's notAfter") {
  auto drbg = catest::MakeDrbg("clamp");
  auto root = catest::MakeCa(drbg->rng(), kNow + 10 * kDay);
  auto issuer = ca::Issuer::Load(root.cert_pem, root.key_pem, drbg->rng());
  REQUIRE(issuer.has_value());
  auto key = catest::NewP256(drbg->rng());
  auto issued = (*issuer)->Issue("dev-1", catest::PublicDer(*key->pk()), {}, kNow, drbg->rng());
  REQUIRE(issued.has_value());
  CHECK(issued->not_after == kNow + 10 * kDay);
  CHECK(ca::ToUnixTime(catest::Parse(issued->der)->get()->valid_to) == kNow + 10 * kDay);

  // Once the CA has expired nothing is issued.
  auto late =
      (*issuer)->Issue("dev-1", catest::PublicDer(*key->pk()), {}, kNow + 11 * kDay, drbg->rng());
  REQUIRE(!late.has_value());
  CHECK(late.error().code == ca::Code::kPolicy);
}

TEST_CASE("serials of issued certificates are distinct") {
  Fixture f;
  std::set<std::string> serials;
  for (int i = 0; i < 50; ++i) serials.insert(f.Issue("dev-1").serial_hex);
  CHECK(serials.size() == 50);
}

TEST_CASE("Issue refuses invalid device ids and non-P-256 keys") {
  Fixture f;
  for (const std::string& id : {std::string(), std::string(65, 'a'), std::string("dev\n1"),
                                std::string("d\xc3\xa9v"), std::string("nul\0", 4)}) {
    auto issued = f.issuer->Issue(id, f.device_spki, {}, kNow, f.drbg->rng());
    REQUIRE(!issued.has_value());
    CHECK(issued.error().code == ca::Code::kPolicy);
  }
  catest::Pk p384;
  catest::GenerateEc(p384, MBEDTLS_ECP_DP_SECP384R1, f.drbg->rng());
  auto issued = f.issuer->Issue("dev-1", catest::PublicDer(*p384.get()), {}, kNow, f.drbg->rng());
  REQUIRE(!issued.has_value());
  CHECK(issued.error().code == ca::Code::kUnsupportedKey);
  CHECK(issued.error().detail.find("P-384") != std::string::npos);

  const base::Bytes garbage = {0x30, 0x03, 0x02, 0x01, 0x01};
  auto bad = f.issuer->Issue("dev-1", garbage, {}, kNow, f.drbg->rng());
  REQUIRE(!bad.has_value());
  CHECK(bad.error().code == ca::Code::kMalformed);
}

TEST_CASE("Issuer::Load refuses a key that does not match, a non-CA, and garbage") {
  auto drbg = catest::MakeDrbg("load");
  auto root = catest::MakeCa(drbg->rng());
  auto other = catest::MakeCa(drbg->rng());
  auto mismatch = ca::Issuer::Load(root.cert_pem, other.key_pem, drbg->rng());
  REQUIRE(!mismatch.has_value());
  CHECK(mismatch.error().code == ca::Code::kInvalidArgument);

  auto leaf = catest::MakeCa(drbg->rng(), kNow + kDay, "CN=not a ca", /*is_ca=*/false);
  auto not_ca = ca::Issuer::Load(leaf.cert_pem, leaf.key_pem, drbg->rng());
  REQUIRE(!not_ca.has_value());
  CHECK(not_ca.error().code == ca::Code::kInvalidArgument);

  CHECK(ca::Issuer::Load("garbage", root.key_pem, drbg->rng()).error().code ==
        ca::Code::kMalformed);
  CHECK(ca::Issuer::Load(root.cert_pem, "garbage", drbg->rng()).error().code ==
        ca::Code::kMalformed);
  // The PEM key round-trips: DER of the same key loads too.
  auto reparsed = ca::PrivateKey::Parse(root.key_pem, drbg->rng());
  REQUIRE(reparsed.has_value());
  CHECK(ca::Issuer::Load(root.cert_pem, *(*reparsed)->ToPem(), drbg->rng()).has_value());
}
