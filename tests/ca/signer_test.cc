// signer_test.cc — what SignCertificate writes (names, extensions and their criticality, SANs,
// validity) and the serial-number rules.
#include "ca/signer.h"

#include <doctest/doctest.h>
#include <mbedtls/oid.h>

#include <set>
#include <vector>

#include "tests/ca/test_util.h"

namespace {

using catest::kDay;
using catest::kNow;

// An Rng that replays a script of bytes, for exercising RandomSerial's redraw.
struct Script {
  std::vector<unsigned char> bytes;
  size_t pos = 0;
};
int ReplayScript(void* state, unsigned char* out, size_t len) {
  auto* script = static_cast<Script*>(state);
  for (size_t i = 0; i < len; ++i) out[i] = script->bytes[script->pos++ % script->bytes.size()];
  return 0;
}

ca::CertSpec LeafSpec(std::string subject) {
  ca::CertSpec spec;
  spec.subject_dn = std::move(subject);
  spec.serial = {0x01, 0x02, 0x03};
  spec.not_before = kNow;
  spec.not_after = kNow + 30 * kDay;
  spec.key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
  spec.ext_key_usage = {ca::Eku::kServerAuth};
  return spec;
}

// Self-signs `spec` with a fresh key and parses the result.
std::unique_ptr<ca::CrtChain> SelfSign(const ca::CertSpec& spec, ca::Rng rng) {
  auto key = catest::NewP256(rng);
  auto der = ca::SignCertificate(spec, *key->pk(), nullptr, *key->pk(), rng);
  REQUIRE_MESSAGE(der.has_value(), (der ? "" : der.error().detail));
  return catest::Parse(*der);
}

std::vector<base::Bytes> SanEntries(const mbedtls_x509_crt& crt, int type) {
  std::vector<base::Bytes> out;
  for (const mbedtls_x509_sequence* cur = &crt.subject_alt_names; cur != nullptr; cur = cur->next) {
    if (cur->buf.p == nullptr) continue;
    mbedtls_x509_subject_alternative_name san{};
    REQUIRE(mbedtls_x509_parse_subject_alt_name(&cur->buf, &san) == 0);
    if (san.type == type) {
      out.emplace_back(san.san.unstructured_name.p,
                       san.san.unstructured_name.p + san.san.unstructured_name.len);
    }
    mbedtls_x509_free_subject_alt_name(&san);
  }
  return out;
}

base::Bytes Text(std::string_view s) { return base::Bytes(s.begin(), s.end()); }

}  // namespace

TEST_CASE("RandomSerial: 2000 serials are 16 bytes, positive, minimal and distinct") {
  auto drbg = catest::MakeDrbg("serials");
  std::set<base::Bytes> seen;
  bool saw_high_second_nibble = false;
  for (int i = 0; i < 2000; ++i) {
    auto serial = ca::RandomSerial(drbg->rng());
    REQUIRE(serial.has_value());
    REQUIRE(serial->size() == 16);
    CHECK((*serial)[0] >= 0x01);
    CHECK((*serial)[0] <= 0x7f);
    saw_high_second_nibble |= (*serial)[0] >= 0x40;
    seen.insert(*serial);
  }
  CHECK(seen.size() == 2000);
  CHECK(saw_high_second_nibble);  // the mask keeps 7 bits, not fewer
}

TEST_CASE("RandomSerial redraws when masking leaves a zero first byte") {
  // Draws: 0x00.. (zero), 0x80.. (zero after masking), 0xff.. -> 0x7f.
  Script script{{0x00, 0x80, 0xff}, 0};
  auto serial = ca::RandomSerial(ca::Rng{ReplayScript, &script}, 1);
  REQUIRE(serial.has_value());
  CHECK(*serial == base::Bytes{0x7f});

  Script zeros{{0x00}, 0};
  auto never = ca::RandomSerial(ca::Rng{ReplayScript, &zeros}, 16);
  REQUIRE(!never.has_value());
  CHECK(never.error().code == ca::Code::kCrypto);
}

TEST_CASE("RandomSerial length bounds") {
  auto drbg = catest::MakeDrbg("lengths");
  CHECK(ca::RandomSerial(drbg->rng(), 1)->size() == 1);
  CHECK(ca::RandomSerial(drbg->rng(), 20)->size() == 20);
  CHECK(ca::RandomSerial(drbg->rng(), 0).error().code == ca::Code::kInvalidArgument);
  CHECK(ca::RandomSerial(drbg->rng(), 21).error().code == ca::Code::kInvalidArgument);
}

TEST_CASE("Drbg::ForTesting is deterministic per seed") {
  auto a = catest::MakeDrbg("same");
  auto b = catest::MakeDrbg("same");
  auto c = catest::MakeDrbg("other");
  const base::Bytes sa = *ca::RandomSerial(a->rng(), 20);
  CHECK(sa == *ca::RandomSerial(b->rng(), 20));
  CHECK(sa != *ca::RandomSerial(c->rng(), 20));
}

TEST_CASE("Drbg::FromSystemEntropy seeds and produces distinct output") {
  auto a = ca::Drbg::FromSystemEntropy();
  auto b = ca::Drbg::FromSystemEntropy();
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(*ca::RandomSerial((*a)->rng(), 20) != *ca::RandomSerial((*b)->rng(), 20));
}

TEST_CASE("subject DN keeps the order written: CN first") {
  auto drbg = catest::MakeDrbg("dn order");
  auto chain = SelfSign(LeafSpec("CN=dev-1,O=Acme,OU=Line 4"), drbg->rng());
  const mbedtls_x509_crt& crt = *chain->get();
  CHECK(ca::DnString(crt.subject) == "CN=dev-1, O=Acme, OU=Line 4");
  // The first RDN in the DER is the CN (what `openssl x509 -subject` prints first).
  REQUIRE(crt.subject.oid.len == MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN));
  CHECK(std::memcmp(crt.subject.oid.p, MBEDTLS_OID_AT_CN, crt.subject.oid.len) == 0);
  CHECK(ca::DnString(crt.issuer) == ca::DnString(crt.subject));
}

TEST_CASE("EscapeDnValue: nasty device ids round-trip through a certificate exactly") {
  std::string all_printable;
  for (char c = 0x20; c <= 0x7e; ++c) all_printable.push_back(c);
  const std::vector<std::string> ids = {"a,b",
                                        "=x=",
                                        "+plus+",
                                        "\"quoted\"",
                                        "back\\slash",
                                        "ends\\",
                                        "\\",
                                        "\\\\,",
                                        "a\\,b",
                                        ";semi",
                                        "<a>",
                                        "#lead",
                                        "mid#",
                                        " lead",
                                        "trail ",
                                        " ",
                                        "  two  ",
                                        "'; DROP TABLE devices; --",
                                        "O=evil,CN=x",
                                        "\\2C",
                                        "%00",
                                        all_printable.substr(0, 64),
                                        all_printable.substr(31)};
  auto drbg = catest::MakeDrbg("escaping");
  auto key = catest::NewP256(drbg->rng());
  for (const std::string& id : ids) {
    INFO("id: [", id, "] escaped: [", ca::EscapeDnValue(id), "]");
    ca::CertSpec spec = LeafSpec("CN=" + ca::EscapeDnValue(id) + ",O=Acme");
    auto der = ca::SignCertificate(spec, *key->pk(), nullptr, *key->pk(), drbg->rng());
    REQUIRE(der.has_value());
    auto chain = catest::Parse(*der);
    auto device_id = ca::DeviceIdOf(*chain->get(), ca::IdentitySource::kCommonName);
    REQUIRE(device_id.has_value());
    CHECK(*device_id == id);
    // The escape did not leak into the next attribute.
    CHECK(ca::DnAttribute(chain->get()->subject,
                          std::string_view(MBEDTLS_OID_AT_ORGANIZATION,
                                           MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_ORGANIZATION))) ==
          "Acme");
  }
}

TEST_CASE("basicConstraints is critical for CA and end entity, and so is keyUsage") {
  auto drbg = catest::MakeDrbg("criticality");
  for (bool is_ca : {false, true}) {
    ca::CertSpec spec = LeafSpec("CN=x");
    spec.is_ca = is_ca;
    spec.max_path_len = is_ca ? 1 : -1;
    auto chain = SelfSign(spec, drbg->rng());
    const mbedtls_x509_crt& crt = *chain->get();
    CHECK(crt.version == 3);
    auto bc = CATEST_EXT(crt, MBEDTLS_OID_BASIC_CONSTRAINTS);
    REQUIRE(bc.has_value());
    CHECK(bc->critical);
    CHECK(mbedtls_x509_crt_get_ca_istrue(&crt) == (is_ca ? 1 : 0));
    if (!is_ca) CHECK(bc->value == base::Bytes{0x30, 0x00});  // cA DEFAULT FALSE is omitted
    if (is_ca) CHECK(bc->value == base::Bytes{0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x01});
    auto ku = CATEST_EXT(crt, MBEDTLS_OID_KEY_USAGE);
    REQUIRE(ku.has_value());
    CHECK(ku->critical);
    CHECK(mbedtls_x509_crt_check_key_usage(&crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) == 0);
    CHECK(mbedtls_x509_crt_check_key_usage(&crt, MBEDTLS_X509_KU_KEY_CERT_SIGN) != 0);
  }
}

TEST_CASE("no keyUsage or EKU extension when the spec asks for none") {
  auto drbg = catest::MakeDrbg("no ku");
  ca::CertSpec spec = LeafSpec("CN=x");
  spec.key_usage = 0;
  spec.ext_key_usage.clear();
  auto chain = SelfSign(spec, drbg->rng());
  CHECK(!CATEST_EXT(*chain->get(), MBEDTLS_OID_KEY_USAGE).has_value());
  CHECK(!CATEST_EXT(*chain->get(), MBEDTLS_OID_EXTENDED_KEY_USAGE).has_value());
  CHECK(!CATEST_EXT(*chain->get(), MBEDTLS_OID_SUBJECT_ALT_NAME).has_value());
  CHECK(CATEST_EXT(*chain->get(), MBEDTLS_OID_BASIC_CONSTRAINTS).has_value());
}

TEST_CASE("EKU lists exactly what the spec asks for") {
  auto drbg = catest::MakeDrbg("eku");
  ca::CertSpec spec = LeafSpec("CN=x");
  spec.ext_key_usage = {ca::Eku::kServerAuth, ca::Eku::kClientAuth};
  auto both = SelfSign(spec, drbg->rng());
  CHECK(mbedtls_x509_crt_check_extended_key_usage(both->get(), MBEDTLS_OID_SERVER_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) == 0);
  CHECK(mbedtls_x509_crt_check_extended_key_usage(both->get(), MBEDTLS_OID_CLIENT_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) == 0);
  spec.ext_key_usage = {ca::Eku::kClientAuth};
  auto client = SelfSign(spec, drbg->rng());
  CHECK(mbedtls_x509_crt_check_extended_key_usage(client->get(), MBEDTLS_OID_SERVER_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) != 0);
  auto eku = CATEST_EXT(*client->get(), MBEDTLS_OID_EXTENDED_KEY_USAGE);
  REQUIRE(eku.has_value());
  CHECK(!eku->critical);
}

TEST_CASE("SANs: DNS, IPv4 and IPv6 as binary, URI") {
  auto drbg = catest::MakeDrbg("san");
  ca::CertSpec spec = LeafSpec("CN=est.example");
  spec.dns_names = {"est.example", "localhost"};
  spec.ip_addresses = {"127.0.0.1", "::1"};
  spec.uris = {"urn:provisiond:device:dev-1"};
  auto chain = SelfSign(spec, drbg->rng());
  const mbedtls_x509_crt& crt = *chain->get();
  CHECK(SanEntries(crt, MBEDTLS_X509_SAN_DNS_NAME) ==
        std::vector<base::Bytes>{Text("est.example"), Text("localhost")});
  base::Bytes v6(16, 0);
  v6[15] = 1;
  CHECK(SanEntries(crt, MBEDTLS_X509_SAN_IP_ADDRESS) ==
        std::vector<base::Bytes>{base::Bytes{127, 0, 0, 1}, v6});
  CHECK(SanEntries(crt, MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER) ==
        std::vector<base::Bytes>{Text("urn:provisiond:device:dev-1")});
  auto san = CATEST_EXT(crt, MBEDTLS_OID_SUBJECT_ALT_NAME);
  REQUIRE(san.has_value());
  CHECK(!san->critical);  // the subject is not empty
}

TEST_CASE("self-signed: issuer = subject, AKI = SKI") {
  auto drbg = catest::MakeDrbg("self");
  auto chain = SelfSign(LeafSpec("CN=root"), drbg->rng());
  const mbedtls_x509_crt& crt = *chain->get();
  REQUIRE(crt.subject_key_id.len == 20);
  REQUIRE(crt.authority_key_id.keyIdentifier.len == 20);
  CHECK(std::memcmp(crt.subject_key_id.p, crt.authority_key_id.keyIdentifier.p, 20) == 0);
  REQUIRE(crt.issuer_raw.len == crt.subject_raw.len);
  CHECK(std::memcmp(crt.issuer_raw.p, crt.subject_raw.p, crt.subject_raw.len) == 0);
}

TEST_CASE("issued by a CA: issuer DN byte-identical to CA subject, AKI = CA SKI, verifies") {
  auto drbg = catest::MakeDrbg("chain");
  // Repeated OU and a PrintableString serialNumber: text round trips would lose both.
  auto root =
      catest::MakeCa(drbg->rng(), kNow + 3650 * kDay, "CN=Root,OU=a,OU=b,serialNumber=42,O=Acme");
  auto ca_chain = catest::Parse(root.der);
  auto leaf_key = catest::NewP256(drbg->rng());
  auto der = ca::SignCertificate(LeafSpec("CN=leaf"), *leaf_key->pk(), ca_chain->get(),
                                 *root.key->pk(), drbg->rng());
  REQUIRE(der.has_value());
  auto leaf = catest::Parse(*der);
  const mbedtls_x509_crt& ca_crt = *ca_chain->get();
  REQUIRE(leaf->get()->issuer_raw.len == ca_crt.subject_raw.len);
  CHECK(std::memcmp(leaf->get()->issuer_raw.p, ca_crt.subject_raw.p, ca_crt.subject_raw.len) == 0);
  const mbedtls_x509_buf& aki = leaf->get()->authority_key_id.keyIdentifier;
  REQUIRE(aki.len == ca_crt.subject_key_id.len);
  CHECK(std::memcmp(aki.p, ca_crt.subject_key_id.p, aki.len) == 0);
  CHECK(catest::VerifyAgainst(leaf->get(), ca_chain->get()) == 0);

  // A different CA with the same name does not verify it.
  auto impostor =
      catest::MakeCa(drbg->rng(), kNow + 3650 * kDay, "CN=Root,OU=a,OU=b,serialNumber=42,O=Acme");
  auto impostor_chain = catest::Parse(impostor.der);
  CHECK(catest::VerifyAgainst(leaf->get(), impostor_chain->get()) != 0);
}

TEST_CASE("validity is written to the second, including GeneralizedTime after 2049") {
  auto drbg = catest::MakeDrbg("validity");
  ca::CertSpec spec = LeafSpec("CN=x");
  spec.not_before = kNow + 17;
  spec.not_after = 2840140800 + 59;  // 2060-01-01T00:00:59Z
  auto chain = SelfSign(spec, drbg->rng());
  CHECK(ca::ToUnixTime(chain->get()->valid_from) == kNow + 17);
  CHECK(ca::ToUnixTime(chain->get()->valid_to) == 2840140800 + 59);
}

TEST_CASE("bad specs are kInvalidArgument") {
  auto drbg = catest::MakeDrbg("bad specs");
  auto key = catest::NewP256(drbg->rng());
  auto sign = [&](const ca::CertSpec& spec) {
    return ca::SignCertificate(spec, *key->pk(), nullptr, *key->pk(), drbg->rng());
  };
  std::vector<ca::CertSpec> bad(8, LeafSpec("CN=x"));
  bad[0].serial = {};
  bad[1].serial = base::Bytes(21, 0x01);
  bad[2].serial = {0x80, 0x01};
  bad[3].serial = {0x00, 0x01};
  bad[4].not_after = bad[4].not_before - 1;
  bad[5].ip_addresses = {"300.1.1.1"};
  bad[6].ip_addresses = {"localhost"};
  bad[7].subject_dn = "XX=unknown-attribute";
  for (size_t i = 0; i < bad.size(); ++i) {
    INFO("case ", i);
    auto der = sign(bad[i]);
    REQUIRE(!der.has_value());
    CHECK(der.error().code == ca::Code::kInvalidArgument);
  }
  ca::CertSpec twenty = LeafSpec("CN=x");
  twenty.serial = base::Bytes(20, 0x7f);
  CHECK(sign(twenty).has_value());
}
