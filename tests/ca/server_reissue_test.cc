// server_reissue_test.cc — the server certificate under a new CA generation (ca/server_reissue.h):
// it verifies under the new root and not the old, and keeps the key, subject and names.
#include "ca/server_reissue.h"

#include <doctest/doctest.h>
#include <mbedtls/oid.h>

#include <algorithm>

#include "ca/cert.h"
#include "ca/rollover.h"
#include "ca/signer.h"
#include "tests/ca/test_util.h"

namespace {

using catest::kDay;
using catest::kNow;
using catest::VerifyAgainst;

}  // namespace

TEST_CASE("ReissueServerCert keeps the key, subject and names under the new root") {
  auto drbg = catest::MakeDrbg("server reissue");
  catest::TestCa old_ca = catest::MakeCa(drbg->rng());
  auto old_key = catest::FileKey(*old_ca.key, drbg->rng());
  auto new_private = catest::NewP256(drbg->rng());
  auto new_key = catest::FileKey(*new_private, drbg->rng());
  auto old_crt = catest::Parse(old_ca.der);
  auto certs =
      ca::MakeRolloverCerts(*old_crt->get(), *old_key, *new_key, kNow, 3650, drbg->rng());
  REQUIRE(certs.has_value());

  auto server_key = catest::NewP256(drbg->rng());
  ca::CertSpec spec{.subject_dn = "CN=est.example",
                    .serial = *ca::RandomSerial(drbg->rng()),
                    .not_before = kNow - kDay,
                    .not_after = kNow + 364 * kDay,
                    .key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE,
                    .ext_key_usage = {ca::Eku::kServerAuth},
                    .dns_names = {"est.example", "localhost"},
                    .ip_addresses = {"127.0.0.1", "::1"}};
  auto server_der =
      ca::SignCertificateWith(spec, server_key->pk(), old_crt->get(), *old_key, drbg->rng());
  REQUIRE(server_der.has_value());
  auto server = catest::Parse(*server_der);
  auto new_root = catest::Parse(certs->new_ca);

  auto again = ca::ReissueServerCert(*server->get(), *new_root->get(), *new_key, kNow, drbg->rng());
  REQUIRE_MESSAGE(again.has_value(), (again ? "" : again.error().detail));
  auto got = catest::Parse(*again);
  CHECK(VerifyAgainst(got->get(), new_root->get()) == 0);
  CHECK(VerifyAgainst(got->get(), old_crt->get()) != 0);
  CHECK(ca::SanString(*got->get()) == ca::SanString(*server->get()));
  CHECK(ca::DnString(got->get()->subject) == "CN=est.example");
  CHECK(catest::PublicDer(got->get()->pk) == catest::PublicDer(server->get()->pk));
  CHECK(ca::ToUnixTime(got->get()->valid_from) == kNow - 300);
  CHECK(ca::ToUnixTime(got->get()->valid_to) == kNow - 300 + 365 * kDay);
  CHECK(mbedtls_x509_crt_check_extended_key_usage(got->get(), MBEDTLS_OID_SERVER_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) == 0);
  CHECK(got->get()->serial.len > 0);
  CHECK(!std::equal(got->get()->serial.p, got->get()->serial.p + got->get()->serial.len,
                    server->get()->serial.p));
}
