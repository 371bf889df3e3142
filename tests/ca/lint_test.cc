// lint_test.cc — Issuer::Lint, the pre-issuance check of a TBSCertificate: accepts what Prepare
// builds and refuses each violation of the operational profile, naming the rule. Violating TBSs
// come from SignCertificate (cut out of the signed certificate) or from editing a good TBS's DER.
#include <doctest/doctest.h>
#include <mbedtls/oid.h>

#include "ca/issuer.h"
#include "tests/ca/tbs_test_util.h"
#include "tests/ca/test_util.h"

namespace {

using catest::kDay;
using catest::kNow;

// Lint's verdict on tbs: "" if accepted, else the rule name it reported (detail up to ':').
std::string LintRule(const ca::Issuer& issuer, const base::Bytes& tbs) {
  auto linted = issuer.Lint(tbs);
  if (linted) return "";
  CHECK(linted.error().code == ca::Code::kPolicy);
  const std::string& detail = linted.error().detail;
  return detail.substr(0, detail.find(':'));
}

struct LintFixture : catest::IssuerFixture {
  LintFixture() : catest::IssuerFixture("lint") {}
  // The rule Lint names for the certificate `spec` describes, signed by the CA.
  std::string RuleFor(const ca::CertSpec& spec) {
    return LintRule(*issuer, catest::TbsOf(SignWithCa(spec, *device_key->pk())));
  }
  std::string RuleFor(const base::Bytes& tbs) { return LintRule(*issuer, tbs); }
};

}  // namespace

TEST_CASE("Lint accepts what Prepare builds and the profile as SignCertificate writes it") {
  LintFixture f;
  CHECK(f.RuleFor(f.Prepare().tbs) == "");
  ca::Profile profile;
  profile.organization = "Acme";
  CHECK(f.RuleFor(f.Prepare("x,y", profile).tbs) == "");
  CHECK(f.RuleFor(f.ProfileSpec()) == "");
  ca::CertSpec twenty = f.ProfileSpec(base::Bytes(20, 0x7f));
  CHECK(f.RuleFor(twenty) == "");
}

TEST_CASE("Lint: basicConstraints, keyUsage and extKeyUsage") {
  LintFixture f;
  ca::CertSpec spec = f.ProfileSpec();
  spec.is_ca = true;
  CHECK(f.RuleFor(spec) == "basicConstraints");

  for (unsigned bad : {MBEDTLS_X509_KU_KEY_CERT_SIGN, MBEDTLS_X509_KU_CRL_SIGN}) {
    spec = f.ProfileSpec();
    spec.key_usage |= bad;
    CHECK(f.RuleFor(spec) == "keyUsage");
  }
  spec = f.ProfileSpec();
  spec.key_usage = MBEDTLS_X509_KU_KEY_AGREEMENT;
  CHECK(f.RuleFor(spec) == "keyUsage");
  spec.key_usage = 0;  // no extension at all
  CHECK(f.RuleFor(spec) == "keyUsage");

  spec = f.ProfileSpec();
  spec.ext_key_usage = {};
  CHECK(f.RuleFor(spec) == "extKeyUsage");
  spec.ext_key_usage = {ca::Eku::kServerAuth};
  CHECK(f.RuleFor(spec) == "extKeyUsage");
  spec.ext_key_usage = {ca::Eku::kClientAuth, ca::Eku::kServerAuth};
  CHECK(f.RuleFor(spec) == "extKeyUsage");
}

TEST_CASE("Lint: extension presence and criticality, edited into a good TBS") {
  LintFixture f;
  const base::Bytes good = f.Prepare().tbs;
  const base::Bytes bc = CATEST_OID_TLV(MBEDTLS_OID_BASIC_CONSTRAINTS);
  const base::Bytes ku = CATEST_OID_TLV(MBEDTLS_OID_KEY_USAGE);
  CHECK(f.RuleFor(catest::RemoveExtension(good, bc)) == "basicConstraints");
  CHECK(f.RuleFor(catest::ReplaceExtension(
            good, bc, catest::ExtensionTlv(bc, false, {0x30, 0x00}))) == "basicConstraints");
  // keyUsage digitalSignature, non-critical: BIT STRING 07 80.
  CHECK(f.RuleFor(catest::ReplaceExtension(
            good, ku, catest::ExtensionTlv(ku, false, {0x03, 0x02, 0x07, 0x80}))) == "keyUsage");
  CHECK(f.RuleFor(catest::ReplaceExtension(
            good, ku, catest::ExtensionTlv(ku, true, {0x03, 0x02, 0x07, 0x80}))) == "");
  CHECK(f.RuleFor(catest::RemoveExtension(good, CATEST_OID_TLV(MBEDTLS_OID_SUBJECT_ALT_NAME))) ==
        "subjectAltName");
  CHECK(f.RuleFor(catest::RemoveExtension(
            good, CATEST_OID_TLV(MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER))) == "subjectKeyId");
  CHECK(f.RuleFor(catest::RemoveExtension(
            good, CATEST_OID_TLV(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER))) == "authorityKeyId");
}

TEST_CASE("Lint: no SAN, wrong issuer, another CA's key identifier, P-384 key") {
  LintFixture f;
  ca::CertSpec spec = f.ProfileSpec();
  spec.uris = {};
  CHECK(f.RuleFor(spec) == "subjectAltName");

  catest::IssuerFixture other("lint-other", kNow + 3650 * kDay, "CN=Other CA");
  CHECK(f.RuleFor(other.Prepare().tbs) == "issuer");
  catest::IssuerFixture twin("lint-twin");  // same subject as f's CA, different key
  CHECK(f.RuleFor(twin.Prepare().tbs) == "authorityKeyId");

  catest::Pk p384;
  catest::GenerateEc(p384, MBEDTLS_ECP_DP_SECP384R1, f.drbg->rng());
  CHECK(LintRule(*f.issuer, catest::TbsOf(f.SignWithCa(f.ProfileSpec(), *p384.get()))) ==
        "subjectPublicKey");
}

TEST_CASE("Lint: validity inside the CA's and notBefore before notAfter") {
  LintFixture f;  // CA valid kNow - 1 day .. kNow + 3650 days
  ca::CertSpec spec = f.ProfileSpec();
  spec.not_after = kNow + 3650 * kDay + 1;
  CHECK(f.RuleFor(spec) == "validity");
  spec = f.ProfileSpec();
  spec.not_before = kNow - kDay - 1;
  CHECK(f.RuleFor(spec) == "validity");
  spec = f.ProfileSpec();
  spec.not_after = spec.not_before;
  CHECK(f.RuleFor(spec) == "validity");
}

TEST_CASE("Lint: serial numbers SignCertificate refuses to write") {
  LintFixture f;
  const base::Bytes good = f.Prepare().tbs;
  auto with_serial = [&](const base::Bytes& content) {
    return f.RuleFor(catest::ReplaceTbsField(good, 1, catest::Tlv(MBEDTLS_ASN1_INTEGER, content)));
  };
  CHECK(with_serial(base::Bytes(20, 0x7f)) == "");
  CHECK(with_serial(base::Bytes{0x00, 0x80}) == "");  // 0x80 needs the pad; 2 octets
  CHECK(with_serial(base::Bytes(21, 0x7f)) == "serial");
  CHECK(with_serial(base::Bytes{0x80, 0x01}) == "serial");  // negative
  CHECK(with_serial(base::Bytes{0x00}) == "serial");        // zero
  CHECK(with_serial(base::Bytes{0x00, 0x01}) == "serial");  // not minimal
}

TEST_CASE("Lint: version, signature algorithm and structure") {
  LintFixture f;
  const base::Bytes good = f.Prepare().tbs;
  // v2 with extensions, and ecdsa-with-SHA384: mbedTLS's parser already refuses both.
  const base::Bytes v2{0xa0, 0x03, 0x02, 0x01, 0x01};
  CHECK(f.RuleFor(catest::ReplaceTbsField(good, 0, v2)) != "");
  const base::Bytes sha384{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
  CHECK(f.RuleFor(catest::ReplaceTbsField(good, 2, sha384)) == "structure");
  // With parameters (NULL) it is not the AlgorithmIdentifier RFC 5758 requires.
  const base::Bytes with_null{0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48,
                              0xce, 0x3d, 0x04, 0x03, 0x02, 0x05, 0x00};
  CHECK(f.RuleFor(catest::ReplaceTbsField(good, 2, with_null)) == "structure");

  base::Bytes trailing = good;
  trailing.push_back(0x00);
  CHECK(f.RuleFor(trailing) == "structure");
  CHECK(f.RuleFor(base::Bytes(good.begin(), good.end() - 1)) == "structure");
  CHECK(f.RuleFor(base::Bytes{}) == "structure");
  CHECK(f.RuleFor(base::Bytes(9000, 0x30)) == "structure");
}
