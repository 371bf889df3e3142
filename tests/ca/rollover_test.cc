// rollover_test.cc — a CA rollover's certificates (ca/rollover.h): each link certificate verifies
// under the root whose key signed it and not under the other, the new root keeps the old one's
// subject and profile, and chains through a link verify under either root.
#include "ca/rollover.h"

#include <doctest/doctest.h>

#include "ca/cert.h"
#include "ca/signer.h"
#include "tests/ca/test_util.h"

namespace {

using catest::kDay;
using catest::kNow;
using catest::VerifyAgainst;

struct Rolled {
  catest::TestCa old_ca;
  std::unique_ptr<ca::CaKey> old_key;
  std::unique_ptr<ca::PrivateKey> new_private;
  std::unique_ptr<ca::CaKey> new_key;
  ca::RolloverCerts certs;
};

Rolled Roll(ca::Rng rng) {
  Rolled r;
  r.old_ca = catest::MakeCa(rng);
  r.old_key = catest::FileKey(*r.old_ca.key, rng);
  r.new_private = catest::NewP256(rng);
  r.new_key = catest::FileKey(*r.new_private, rng);
  auto old_crt = catest::Parse(r.old_ca.der);
  auto certs = ca::MakeRolloverCerts(*old_crt->get(), *r.old_key, *r.new_key, kNow, 3650, rng);
  REQUIRE(certs.has_value());
  r.certs = std::move(*certs);
  return r;
}

// A client certificate issued by `issuer` (cert + key), as an operational certificate would be.
base::Bytes Leaf(const base::Bytes& issuer_der, ca::CaKey& issuer_key, ca::Rng rng) {
  auto leaf_key = catest::NewP256(rng);
  auto issuer = catest::Parse(issuer_der);
  ca::CertSpec spec{.subject_dn = "CN=dev-1",
                    .serial = *ca::RandomSerial(rng),
                    .not_before = kNow,
                    .not_after = kNow + 90 * kDay,
                    .key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE,
                    .ext_key_usage = {ca::Eku::kClientAuth}};
  auto der = ca::SignCertificateWith(spec, leaf_key->pk(), issuer->get(), issuer_key, rng);
  REQUIRE(der.has_value());
  return *der;
}

}  // namespace

TEST_CASE("each link verifies under the root that signed it and not under the other") {
  auto drbg = catest::MakeDrbg("rollover links");
  Rolled r = Roll(drbg->rng());
  auto old_root = catest::Parse(r.old_ca.der);
  auto new_root = catest::Parse(r.certs.new_ca);
  auto new_with_old = catest::Parse(r.certs.new_with_old);
  auto old_with_new = catest::Parse(r.certs.old_with_new);

  CHECK(VerifyAgainst(new_with_old->get(), old_root->get()) == 0);
  CHECK((VerifyAgainst(new_with_old->get(), new_root->get()) & MBEDTLS_X509_BADCERT_NOT_TRUSTED));
  CHECK(VerifyAgainst(old_with_new->get(), new_root->get()) == 0);
  CHECK((VerifyAgainst(old_with_new->get(), old_root->get()) & MBEDTLS_X509_BADCERT_NOT_TRUSTED));
  // The new root is self-signed by the new key only.
  CHECK(VerifyAgainst(new_root->get(), new_root->get()) == 0);
  CHECK((VerifyAgainst(new_root->get(), old_root->get()) & MBEDTLS_X509_BADCERT_NOT_TRUSTED));
}

TEST_CASE("the new root and both links keep the old root's subject and profile") {
  auto drbg = catest::MakeDrbg("rollover profile");
  Rolled r = Roll(drbg->rng());
  auto old_root = catest::Parse(r.old_ca.der);
  auto new_root = catest::Parse(r.certs.new_ca);
  auto new_with_old = catest::Parse(r.certs.new_with_old);
  auto old_with_new = catest::Parse(r.certs.old_with_new);
  for (const auto* crt : {new_root->get(), new_with_old->get(), old_with_new->get()}) {
    CHECK(ca::SameSubject(*crt, *old_root->get()));
    CHECK(crt->MBEDTLS_PRIVATE(ca_istrue) == 1);
    CHECK(crt->MBEDTLS_PRIVATE(max_pathlen) == 1);  // pathLenConstraint 0, as mbedTLS stores it
    CHECK(crt->MBEDTLS_PRIVATE(key_usage) == (MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN));
  }
  CHECK(ca::SameKey(*new_with_old->get(), *new_root->get()));
  CHECK(ca::SameKey(*old_with_new->get(), *old_root->get()));
  CHECK(!ca::SameKey(*new_root->get(), *old_root->get()));
  // NewWithOld ends when the old root does; OldWithNew is the old root's own validity.
  CHECK(ca::ToUnixTime(new_with_old->get()->valid_to) == ca::ToUnixTime(old_root->get()->valid_to));
  CHECK(ca::ToUnixTime(old_with_new->get()->valid_from) ==
        ca::ToUnixTime(old_root->get()->valid_from));
}

TEST_CASE("a device that learned the new root through NewWithOld verifies either generation") {
  auto drbg = catest::MakeDrbg("rollover chains");
  Rolled r = Roll(drbg->rng());
  auto trust = catest::Parse(r.old_ca.der);
  auto new_root = catest::Parse(r.certs.new_ca);
  auto new_leaf = catest::Parse(Leaf(r.certs.new_ca, *r.new_key, drbg->rng()));
  auto old_leaf = catest::Parse(Leaf(r.old_ca.der, *r.old_key, drbg->rng()));
  // Before: only the old root; a new-generation certificate is not trusted.
  CHECK((VerifyAgainst(new_leaf->get(), trust->get()) & MBEDTLS_X509_BADCERT_NOT_TRUSTED));
  // The device checks NewWithOld under the root it holds and that it carries the new root's
  // key, then adds the new root (device-sim/rollover.cc does this).
  auto link = catest::Parse(r.certs.new_with_old);
  REQUIRE(VerifyAgainst(link->get(), trust->get()) == 0);
  REQUIRE(ca::SameKey(*link->get(), *new_root->get()));
  REQUIRE(ca::AppendCertificates(*trust, catest::AsText(r.certs.new_ca)).has_value());
  CHECK(VerifyAgainst(new_leaf->get(), trust->get()) == 0);
  CHECK(VerifyAgainst(old_leaf->get(), trust->get()) == 0);
  // mbedTLS counts a self-issued link against the pathLenConstraint 0 of the root above it (it
  // counts self-issued certificates only below the one being checked), so a chain leaf -> link
  // -> root does not verify with mbedTLS even though RFC 5280 §6.1.4 (l) allows it: devices keep
  // both roots instead of relying on chains through links.
  auto through_link = catest::Parse(Leaf(r.certs.new_ca, *r.new_key, drbg->rng()));
  REQUIRE(ca::AppendCertificates(*through_link, catest::AsText(r.certs.new_with_old)));
  auto old_only = catest::Parse(r.old_ca.der);
  CHECK((VerifyAgainst(through_link->get(), old_only->get()) & MBEDTLS_X509_BADCERT_NOT_TRUSTED));
}

TEST_CASE("a rollover is refused with the wrong old key, the same key or no days") {
  auto drbg = catest::MakeDrbg("rollover refusals");
  auto rng = drbg->rng();
  auto old_ca = catest::MakeCa(rng);
  auto old_crt = catest::Parse(old_ca.der);
  auto old_key = catest::FileKey(*old_ca.key, rng);
  auto other = catest::FileKey(*catest::NewP256(rng), rng);
  auto same = catest::FileKey(*old_ca.key, rng);
  CHECK(catest::FailureCode(ca::MakeRolloverCerts(*old_crt->get(), *other, *other, kNow, 10, rng)) ==
        ca::Code::kInvalidArgument);
  CHECK(catest::FailureCode(ca::MakeRolloverCerts(*old_crt->get(), *old_key, *same, kNow, 10, rng)) ==
        ca::Code::kInvalidArgument);
  CHECK(catest::FailureCode(ca::MakeRolloverCerts(*old_crt->get(), *old_key, *other, kNow, 0, rng)) ==
        ca::Code::kInvalidArgument);
}
