// issuer_tbs_test.cc — issuance in two steps (Issuer::Prepare, Issuer::Sign): the TBS exists
// before any signature, matches what SignCertificate would write, never involves the CA key, and
// Sign refuses TBSs that are not this CA's operational certificates.
#include <doctest/doctest.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>

#include "ca/issuer.h"
#include "ca/keys.h"
#include "ca/tbs.h"
#include "tests/ca/tbs_test_util.h"
#include "tests/ca/test_util.h"

namespace {

using catest::kDay;
using catest::kNow;

base::Bytes SerialBytes(const std::string& hex) {
  base::Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<unsigned char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// An Rng that counts the bytes drawn through it.
struct CountingRng {
  ca::Rng inner;
  size_t bytes = 0;
  static int Fill(void* state, unsigned char* out, size_t len) {
    auto* self = static_cast<CountingRng*>(state);
    self->bytes += len;
    return self->inner.fill(self->inner.state, out, len);
  }
  ca::Rng rng() { return {&CountingRng::Fill, this}; }
};

base::Bytes SignTbs(mbedtls_pk_context* key, const base::Bytes& tbs, ca::Rng rng) {
  unsigned char hash[32];
  REQUIRE(mbedtls_sha256(tbs.data(), tbs.size(), hash, 0) == 0);
  unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
  size_t len = 0;
  REQUIRE(mbedtls_pk_sign(key, MBEDTLS_MD_SHA256, hash, 32, sig, sizeof(sig), &len, rng.fill,
                          rng.state) == 0);
  return base::Bytes(sig, sig + len);
}

}  // namespace

TEST_CASE("Prepare builds byte for byte the TBS that SignCertificate writes for the profile") {
  SUBCASE("UTCTime, subject with O and OU, escaped id") {
    catest::IssuerFixture f("tbs-same");
    ca::Profile profile;
    profile.organization = "Acme, Inc.";
    profile.organizational_unit = "Line 4";
    const ca::PreparedCert prepared = f.Prepare("a+b=c", profile);
    ca::CertSpec spec = f.ProfileSpec(SerialBytes(prepared.serial_hex));
    spec.subject_dn = "CN=a\\+b\\=c,O=Acme\\, Inc.,OU=Line 4";
    spec.uris = {"urn:provisiond:device:a%2Bb%3Dc"};
    CHECK(catest::TbsOf(f.SignWithCa(spec, *f.device_key->pk())) == prepared.tbs);
  }
  SUBCASE("GeneralizedTime after 2049") {
    catest::IssuerFixture f("tbs-2050", kNow + 40 * 365 * kDay);
    ca::Profile profile;
    profile.validity_seconds = 30 * 365 * kDay;
    const ca::PreparedCert prepared = f.Prepare("dev-1", profile);
    CHECK(prepared.not_after == kNow + 30 * 365 * kDay);
    ca::CertSpec spec = f.ProfileSpec(SerialBytes(prepared.serial_hex));
    spec.not_after = prepared.not_after;
    CHECK(catest::TbsOf(f.SignWithCa(spec, *f.device_key->pk())) == prepared.tbs);
  }
}

TEST_CASE("Prepare then Sign gives the operational certificate, verified by the CA") {
  catest::IssuerFixture f("prepare-sign");
  const ca::PreparedCert prepared = f.Prepare("dev-1");
  auto issued = f.issuer->Sign(prepared.tbs, f.drbg->rng());
  REQUIRE_MESSAGE(issued.has_value(), (issued ? "" : issued.error().detail));
  const base::Bytes& der = issued->der;
  auto chain = catest::Parse(der);
  const mbedtls_x509_crt& crt = *chain->get();
  auto ca_chain = catest::Parse(f.root.der);

  CHECK(catest::TbsOf(der) == prepared.tbs);
  CHECK(catest::VerifyAgainst(chain->get(), ca_chain->get()) == 0);
  CHECK(crt.version == 3);
  CHECK(prepared.serial_hex == ca::CertSerialHex(crt));
  CHECK(prepared.serial_hex.size() == 32);
  CHECK(prepared.subject == "CN=dev-1");
  CHECK(ca::DnString(crt.subject) == "CN=dev-1");
  CHECK(prepared.san == "URI:urn:provisiond:device:dev-1");
  CHECK(prepared.not_before == kNow - 300);
  CHECK(prepared.not_after == kNow + 90 * kDay);
  CHECK(ca::ToUnixTime(crt.valid_from) == kNow - 300);
  CHECK(ca::ToUnixTime(crt.valid_to) == kNow + 90 * kDay);
  CHECK(prepared.public_key_sha256 == ca::Sha256Hex(f.device_spki));
  CHECK(mbedtls_x509_crt_get_ca_istrue(&crt) == 0);
  CHECK(CATEST_EXT(crt, MBEDTLS_OID_BASIC_CONSTRAINTS)->critical);
  CHECK(CATEST_EXT(crt, MBEDTLS_OID_KEY_USAGE)->critical);
  CHECK(mbedtls_x509_crt_check_extended_key_usage(&crt, MBEDTLS_OID_CLIENT_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) == 0);
  // The outer signature algorithm is ecdsa-with-SHA256 without parameters.
  const base::Bytes alg{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
  auto outer = catest::Children(der);
  REQUIRE(outer.size() == 3);
  CHECK(outer[1] == alg);
  CHECK(catest::Children(prepared.tbs)[2] == alg);
}

TEST_CASE("Issue is Prepare + Sign: same randomness, same certificate") {
  catest::IssuerFixture a("same-stream"), b("same-stream");
  auto issued = a.issuer->Issue("dev-1", a.device_spki, {}, kNow, a.drbg->rng());
  REQUIRE(issued.has_value());
  const ca::PreparedCert prepared = b.Prepare("dev-1");
  auto signed_cert = b.issuer->Sign(prepared.tbs, b.drbg->rng());
  REQUIRE(signed_cert.has_value());
  const base::Bytes& der = signed_cert->der;
  CHECK(issued->der == der);
  CHECK(issued->serial_hex == prepared.serial_hex);
  CHECK(issued->fingerprint_sha256 == ca::Sha256Hex(der));
}

TEST_CASE("Sign describes the certificate it returns as a fresh parse of its DER does") {
  catest::IssuerFixture f("sign-describes");
  ca::Profile profile;
  SUBCASE("default profile") {}
  SUBCASE("O, OU and an identity scope") {
    profile.organization = "Acme";
    profile.organizational_unit = "Line 3";
    profile.identity_scope = "0a1b";
  }
  const ca::PreparedCert prepared = f.Prepare("dev-7", profile);
  auto issued = f.issuer->Sign(prepared.tbs, f.drbg->rng());
  REQUIRE_MESSAGE(issued.has_value(), (issued ? "" : issued.error().detail));
  auto chain = catest::Parse(issued->der);
  const mbedtls_x509_crt& crt = *chain->get();
  auto key_der = ca::PublicKeyDer(crt.pk);
  REQUIRE(key_der.has_value());
  CHECK(catest::TbsOf(issued->der) == prepared.tbs);
  CHECK(issued->serial_hex == ca::CertSerialHex(crt));
  CHECK(issued->subject == ca::DnString(crt.subject));
  CHECK(issued->san == ca::SanString(crt));
  CHECK(issued->not_before == ca::ToUnixTime(crt.valid_from));
  CHECK(issued->not_after == ca::ToUnixTime(crt.valid_to));
  CHECK(issued->fingerprint_sha256 == ca::CertFingerprint(crt));
  CHECK(issued->fingerprint_sha256 == ca::Sha256Hex(issued->der));
  CHECK(issued->public_key_sha256 == ca::Sha256Hex(*key_der));
  // ... and as Prepare described the TBS it signed.
  CHECK(issued->serial_hex == prepared.serial_hex);
  CHECK(issued->subject == prepared.subject);
  CHECK(issued->san == prepared.san);
  CHECK(issued->not_before == prepared.not_before);
  CHECK(issued->not_after == prepared.not_after);
  CHECK(issued->public_key_sha256 == prepared.public_key_sha256);
}

TEST_CASE("Prepare draws randomness for the serial only: no signature, so no CA key") {
  // By design BuildTbs (ca/tbs.h) receives the CA certificate and no key at all; this checks the
  // observable consequence: an ECDSA signature needs random bytes, Prepare takes exactly the
  // 16 of the serial.
  catest::IssuerFixture f("no-key");
  CountingRng counting{f.drbg->rng()};
  auto prepared = f.issuer->Prepare("dev-1", f.device_spki, {}, kNow, counting.rng());
  REQUIRE(prepared.has_value());
  CHECK(counting.bytes == 16);
  counting.bytes = 0;
  REQUIRE(f.issuer->Sign(prepared->tbs, counting.rng()).has_value());
  CHECK(counting.bytes > 0);  // the check above would notice a signature
}

TEST_CASE("Sign refuses TBSs that are not this CA's operational certificates") {
  catest::IssuerFixture f("sign-refuses");
  SUBCASE("prepared by another CA") {
    catest::IssuerFixture other("other-ca", kNow + 3650 * kDay, "CN=Other CA");
    auto signed_der = f.issuer->Sign(other.Prepare().tbs, f.drbg->rng());
    REQUIRE(!signed_der.has_value());
    CHECK(signed_der.error().code == ca::Code::kPolicy);
    CHECK(signed_der.error().detail.starts_with("issuer:"));
  }
  SUBCASE("prepared by another CA with the same name") {
    catest::IssuerFixture twin("twin-ca");
    auto signed_der = f.issuer->Sign(twin.Prepare().tbs, f.drbg->rng());
    REQUIRE(!signed_der.has_value());
    CHECK(signed_der.error().code == ca::Code::kPolicy);
    CHECK(signed_der.error().detail.starts_with("authorityKeyId:"));
  }
  SUBCASE("a CA certificate") {
    ca::CertSpec spec = f.ProfileSpec();
    spec.is_ca = true;
    auto tbs = catest::TbsOf(f.SignWithCa(spec, *f.device_key->pk()));
    auto signed_der = f.issuer->Sign(tbs, f.drbg->rng());
    REQUIRE(!signed_der.has_value());
    CHECK(signed_der.error().code == ca::Code::kPolicy);
  }
  SUBCASE("garbage and oversized input") {
    for (const base::Bytes& tbs :
         {base::Bytes{}, base::Bytes{0x30, 0x00}, base::Bytes(9000, 0x30)}) {
      auto signed_der = f.issuer->Sign(tbs, f.drbg->rng());
      REQUIRE(!signed_der.has_value());
      CHECK(signed_der.error().code == ca::Code::kPolicy);
      CHECK(signed_der.error().detail.starts_with("structure:"));
    }
  }
}

TEST_CASE("CheckSigned refuses a wrong signature, a different TBS and garbage") {
  catest::IssuerFixture f("check-signed");
  const ca::PreparedCert prepared = f.Prepare();
  auto issued = f.issuer->Sign(prepared.tbs, f.drbg->rng());
  REQUIRE(issued.has_value());
  const base::Bytes& der = issued->der;
  const mbedtls_x509_crt& ca_crt = f.issuer->ca_cert();
  auto checked = ca::CheckSigned(der, prepared.tbs, ca_crt);
  REQUIRE(checked.has_value());
  CHECK(ca::CertDer(*(*checked)->get()) == der);  // the parse it returns is of der

  auto other_key = catest::NewP256(f.drbg->rng());
  auto forged = ca::WrapTbs(prepared.tbs, SignTbs(other_key->pk(), prepared.tbs, f.drbg->rng()));
  REQUIRE(forged.has_value());
  CHECK(ca::CheckSigned(*forged, prepared.tbs, ca_crt).error().code == ca::Code::kCrypto);

  base::Bytes flipped = der;
  flipped[flipped.size() - 5] ^= 0x01;  // inside the signature's s INTEGER
  CHECK(ca::CheckSigned(flipped, prepared.tbs, ca_crt).error().code == ca::Code::kCrypto);

  const ca::PreparedCert other = f.Prepare();
  CHECK(ca::CheckSigned(der, other.tbs, ca_crt).error().code == ca::Code::kCrypto);
  CHECK(ca::CheckSigned(base::Bytes{0x30, 0x00}, prepared.tbs, ca_crt).error().code ==
        ca::Code::kCrypto);
}

TEST_CASE("notBefore is backdated, but never before the CA's notBefore") {
  catest::IssuerFixture f("young-ca");  // CA valid from kNow - 1 day
  const base::UnixTime now = kNow - kDay + 10;
  const ca::PreparedCert prepared = f.Prepare("dev-1", {}, now);
  CHECK(prepared.not_before == kNow - kDay);
  CHECK(f.issuer->Sign(prepared.tbs, f.drbg->rng()).has_value());
}

TEST_CASE("Issuer::Load refuses a CA certificate without subjectKeyIdentifier") {
  auto drbg = catest::MakeDrbg("no-ski");
  auto key = catest::NewP256(drbg->rng());
  base::Scoped<mbedtls_x509write_cert, mbedtls_x509write_crt_init, mbedtls_x509write_crt_free> w;
  mbedtls_x509write_crt_set_version(w.get(), MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(w.get(), MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(w.get(), key->pk());
  mbedtls_x509write_crt_set_issuer_key(w.get(), key->pk());
  unsigned char serial[] = {0x01};
  REQUIRE(mbedtls_x509write_crt_set_serial_raw(w.get(), serial, 1) == 0);
  REQUIRE(mbedtls_x509write_crt_set_subject_name(w.get(), "CN=No SKI CA") == 0);
  REQUIRE(mbedtls_x509write_crt_set_issuer_name(w.get(), "CN=No SKI CA") == 0);
  REQUIRE(mbedtls_x509write_crt_set_validity(w.get(), "20260101000000", "20360101000000") == 0);
  REQUIRE(mbedtls_x509write_crt_set_basic_constraints(w.get(), 1, 0) == 0);
  REQUIRE(mbedtls_x509write_crt_set_key_usage(w.get(), MBEDTLS_X509_KU_KEY_CERT_SIGN) == 0);
  base::Bytes buf(4096);
  int len = mbedtls_x509write_crt_der(w.get(), buf.data(), buf.size(), drbg->rng().fill,
                                      drbg->rng().state);
  REQUIRE(len > 0);
  const base::Bytes der(buf.end() - len, buf.end());
  REQUIRE(catest::Parse(der)->get()->subject_key_id.len == 0);

  auto loaded = ca::Issuer::Load(ca::DerToPem(der, "CERTIFICATE"), *key->ToPem(), drbg->rng());
  REQUIRE(!loaded.has_value());
  CHECK(loaded.error().code == ca::Code::kInvalidArgument);
  CHECK(loaded.error().detail.find("subjectKeyIdentifier") != std::string::npos);
}
