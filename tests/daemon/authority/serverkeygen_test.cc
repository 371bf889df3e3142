// serverkeygen_test.cc — server-side key generation in the authority (RFC 7030 §4.4): the
// certificate certifies a key made here (not the CSR's), returned once as PKCS#8 and recorded as
// server-generated; TLS 1.3 only; the simpleenroll identity and one-time bootstrap rules hold.
#include <doctest/doctest.h>

#include <string>

#include "ca/encoding.h"
#include "ca/keys.h"
#include "daemon/authority/enrollment.h"
#include "tests/daemon/authority/bench.h"

using namespace authoritytest;

namespace {

EnrollRequest KeygenRequest(Bench& b, const Device& d) {
  EnrollRequest r = b.Request(d);
  r.endpoint = "serverkeygen";
  r.server_keygen = true;
  return r;
}

// The SubjectPublicKeyInfo an issued certificate certifies.
base::Bytes CertifiedKey(const base::Bytes& der) {
  auto chain = ca::ParseCertificates(catest::AsText(der));
  REQUIRE(chain.has_value());
  return catest::PublicDer((*chain)->get()->pk);
}

// The same CSR with its last signature byte changed: it no longer verifies.
std::string BreakSignature(const std::string& base64_csr) {
  auto der = ca::Base64Decode(base64_csr, ca::kMaxCsrDer);
  REQUIRE(der.has_value());
  der->back() ^= 0x01;
  return ca::Base64Encode(*der, true);
}

}  // namespace

TEST_CASE("serverkeygen certifies a fresh key, returns it as PKCS#8 and records it as such") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollResult r = Expect(b, KeygenRequest(b, d), EnrollCode::kIssued);
  REQUIRE(r.server_key != nullptr);
  const base::Bytes certified = CertifiedKey(r.der);
  CHECK(certified == r.server_key->public_key_der);
  CHECK(certified != catest::PublicDer(*d.key->pk()));  // the CSR's key is ignored
  // The PKCS#8 parses as a private key whose public half is the certified key.
  const std::string_view pkcs8 = r.server_key->pkcs8_der.view();
  auto parsed = ca::PrivateKey::Parse(pkcs8, b.drbg->rng());
  REQUIRE_MESSAGE(parsed.has_value(), parsed.error().detail);
  CHECK(ca::IsP256(*(*parsed)->pk()));
  CHECK(catest::PublicDer(*(*parsed)->pk()) == certified);
  CHECK(b.Rows("enrollment_events", "serial = '" + r.serial_hex +
                                        "' AND outcome = 'issued' AND reason = "
                                        "'issued_server_key' AND endpoint = 'serverkeygen'") == 1);
  CHECK(b.Rows("certificates", "serial = '" + r.serial_hex + "'") == 1);
}

TEST_CASE("serverkeygen ignores the CSR's key and signature but not its subject") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest broken = KeygenRequest(b, d);
  broken.body = BreakSignature(broken.body);
  EnrollRequest plain = broken;
  plain.server_keygen = false;
  plain.endpoint = "simpleenroll";
  Expect(b, plain, EnrollCode::kBadCsr);  // simpleenroll needs proof of possession
  Expect(b, broken, EnrollCode::kIssued);
  Device other = b.NewDevice();
  EnrollRequest wrong_subject = KeygenRequest(b, other);
  wrong_subject.body = b.Csr(*other.key, "somebody-else");
  EnrollResult r = Expect(b, wrong_subject, EnrollCode::kBadCsr);
  CHECK(r.csr_error == ca::Code::kIdentityMismatch);
  CHECK(r.server_key == nullptr);
}

TEST_CASE("serverkeygen over TLS 1.2 is refused before any key is made or anything reserved") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollRequest tls12 = KeygenRequest(b, d);
  tls12.peer.tls13 = false;
  tls12.peer.tls_version = "TLSv1.2";
  EnrollResult r = Expect(b, tls12, EnrollCode::kServerKeygenNeedsTls13);
  CHECK(r.server_key == nullptr);
  CHECK(b.Rows("issuance_intents") == 0);
  EnrollRequest plain = b.Request(d);  // the same peer may still simpleenroll over TLS 1.2
  plain.peer = tls12.peer;
  Expect(b, plain, EnrollCode::kIssued);
}

TEST_CASE("serverkeygen spends the bootstrap certificate as simpleenroll does") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  Expect(b, KeygenRequest(b, d), EnrollCode::kIssued);
  // A second key for the same bootstrap certificate: the one-time rule, whichever endpoint.
  EnrollResult again = Expect(b, KeygenRequest(b, d), EnrollCode::kBootstrapExhausted);
  CHECK(again.server_key == nullptr);
  Expect(b, b.Request(d), EnrollCode::kBootstrapExhausted);
  Device e = b.NewDevice();
  Expect(b, b.Request(e), EnrollCode::kIssued);
  Expect(b, KeygenRequest(b, e), EnrollCode::kBootstrapExhausted);
  CHECK(b.Rows("certificates") == 2);
}

TEST_CASE("serverkeygen with an operational certificate is refused as simpleenroll is") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  EnrollResult first = Expect(b, b.Request(d), EnrollCode::kIssued);
  EnrollRequest renew = KeygenRequest(b, d);
  renew.peer = Bench::Operational(first.der, d.id);
  Expect(b, renew, EnrollCode::kNeedsBootstrap);
}
