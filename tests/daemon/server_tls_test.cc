// server_tls_test.cc — ServerTls::IsIssuingCa, the operational/bootstrap classification of a
// client chain's top: the issuing CA is recognised by subject and key, not by its exact bytes
// (issue #12, finding 7). serve and check-config refuse trust stores holding such copies
// (e2e/trust_ca_copy); this tests the classification with that check out of the way.
#include <doctest/doctest.h>

#include "daemon/tls/server_tls.h"
#include "tests/ca/test_util.h"

namespace {

using catest::kDay;
using catest::kNow;

constexpr const char* kCaSubject = "CN=provisiond CA,O=provisiond tests";

// A self-signed CA certificate for key with this subject, serial and lifetime.
base::Bytes SelfSigned(mbedtls_pk_context& key, const std::string& subject, base::Bytes serial,
                       base::UnixTime days, ca::Rng rng) {
  ca::CertSpec spec;
  spec.subject_dn = subject;
  spec.serial = std::move(serial);
  spec.not_before = kNow - kDay;
  spec.not_after = kNow + days * kDay;
  spec.is_ca = true;
  spec.max_path_len = 0;
  spec.key_usage = MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN;
  auto der = ca::SignCertificate(spec, key, nullptr, key, rng);
  REQUIRE(der.has_value());
  return *der;
}

}  // namespace

TEST_CASE("IsIssuingCa recognises the issuing CA by subject and key, not by its bytes") {
  auto drbg = catest::MakeDrbg("server-tls-issuing-ca");
  catest::TestCa issuing = catest::MakeCa(drbg->rng(), kNow + 3650 * kDay, kCaSubject);
  catest::TestCa server = catest::MakeCa(drbg->rng(), kNow + 365 * kDay, "CN=localhost", false);
  provisiond::tls::Material material{.server_cert_pem = server.cert_pem,
                                     .server_key_pem = server.key_pem,
                                     .ca_cert_pem = issuing.cert_pem,
                                     .trust_pems = {}};
  auto tls = provisiond::tls::ServerTls::Create(material, 3, provisiond::ClientAuth::kRequired);
  REQUIRE_MESSAGE(tls.has_value(), (tls ? "" : tls.error().detail));

  auto is_issuing = [&](const base::Bytes& der) {
    return (*tls)->IsIssuingCa(*catest::Parse(der)->get());
  };
  CHECK(is_issuing(issuing.der));
  // Re-issued: same key and subject, another serial and lifetime (different bytes).
  const base::Bytes reissued =
      SelfSigned(*issuing.key->pk(), kCaSubject, {0x7a, 0x11}, 5000, drbg->rng());
  REQUIRE(reissued != issuing.der);
  CHECK(is_issuing(reissued));
  // Only the subject, or only the key: another CA.
  auto other_key = catest::NewP256(drbg->rng());
  CHECK_FALSE(is_issuing(SelfSigned(*other_key->pk(), kCaSubject, {0x01}, 100, drbg->rng())));
  CHECK_FALSE(
      is_issuing(SelfSigned(*issuing.key->pk(), "CN=someone else", {0x02}, 100, drbg->rng())));
  CHECK_FALSE(is_issuing(server.der));
}

TEST_CASE("FindCaLookalike names the first trust certificate with the CA's subject or key") {
  auto drbg = catest::MakeDrbg("find-ca-lookalike");
  catest::TestCa issuing = catest::MakeCa(drbg->rng(), kNow + 3650 * kDay, kCaSubject);
  catest::TestCa factory = catest::MakeCa(drbg->rng(), kNow + 3650 * kDay, "CN=factory");
  auto ca = catest::Parse(issuing.der);
  auto chain = [&](std::initializer_list<base::Bytes> certs) {
    std::string pem;
    for (const auto& der : certs) pem += ca::DerToPem(der, "CERTIFICATE");
    auto parsed = ca::ParseCertificates(pem);
    REQUIRE(parsed.has_value());
    return std::move(*parsed);
  };
  CHECK_FALSE(ca::FindCaLookalike(*chain({factory.der})->get(), *ca->get()).has_value());
  const base::Bytes reissued =
      SelfSigned(*issuing.key->pk(), kCaSubject, {0x7a, 0x11}, 5000, drbg->rng());
  CHECK(ca::FindCaLookalike(*chain({factory.der, reissued})->get(), *ca->get()) ==
        "'CN=provisiond CA, O=provisiond tests' has the CA's subject and key");
  const base::Bytes same_key = SelfSigned(*issuing.key->pk(), "CN=other", {0x02}, 100, drbg->rng());
  CHECK(ca::FindCaLookalike(*chain({same_key})->get(), *ca->get()) ==
        "'CN=other' has the CA's key");
  auto other_key = catest::NewP256(drbg->rng());
  const base::Bytes same_subject =
      SelfSigned(*other_key->pk(), kCaSubject, {0x03}, 100, drbg->rng());
  CHECK(ca::FindCaLookalike(*chain({factory.der, same_subject})->get(), *ca->get()) ==
        "'CN=provisiond CA, O=provisiond tests' has the CA's subject");
}
