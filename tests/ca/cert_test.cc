// cert_test.cc — parsing certificate files and reading identity and metadata from them.
#include "ca/cert.h"

#include <doctest/doctest.h>
#include <mbedtls/oid.h>

#include "tests/ca/test_util.h"

namespace {

using catest::kDay;
using catest::kNow;

// A self-signed end-entity certificate with the given (already escaped) subject.
base::Bytes CertWithSubject(const std::string& subject, ca::Rng rng) {
  return catest::MakeCa(rng, kNow + kDay, subject, /*is_ca=*/false).der;
}

}  // namespace

TEST_CASE("ParseCertificates: PEM bundle in file order, single DER, appending") {
  auto drbg = catest::MakeDrbg("parse");
  auto a = catest::MakeCa(drbg->rng(), kNow + kDay, "CN=A");
  auto b = catest::MakeCa(drbg->rng(), kNow + kDay, "CN=B");
  auto bundle = ca::ParseCertificates("junk before\n" + a.cert_pem + "between\n" + b.cert_pem);
  REQUIRE(bundle.has_value());
  const mbedtls_x509_crt* first = (*bundle)->get();
  CHECK(ca::DnString(first->subject) == "CN=A");
  REQUIRE(first->next != nullptr);
  CHECK(ca::DnString(first->next->subject) == "CN=B");
  CHECK(first->next->next == nullptr);

  auto der = ca::ParseCertificates(catest::AsText(a.der));
  REQUIRE(der.has_value());
  CHECK(ca::CertDer(*(*der)->get()) == a.der);

  REQUIRE(ca::AppendCertificates(**der, b.cert_pem).has_value());
  REQUIRE((*der)->get()->next != nullptr);
  CHECK(ca::CertDer(*(*der)->get()->next) == b.der);
}

TEST_CASE("ParseCertificates refuses garbage, truncation and a bundle with one bad block") {
  auto drbg = catest::MakeDrbg("parse bad");
  auto a = catest::MakeCa(drbg->rng());
  std::string corrupted = a.cert_pem;
  corrupted[corrupted.size() / 2] = corrupted[corrupted.size() / 2] == 'A' ? 'B' : 'A';
  base::Bytes truncated(a.der.begin(), a.der.end() - 1);
  for (const std::string& bad :
       {std::string("not a certificate"), std::string(), std::string(catest::AsText(truncated)),
        a.cert_pem + corrupted,
        std::string("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n")}) {
    auto parsed = ca::ParseCertificates(bad);
    REQUIRE(!parsed.has_value());
    CHECK(parsed.error().code == ca::Code::kMalformed);
  }
}

TEST_CASE("serial, fingerprint and times read back as written") {
  auto drbg = catest::MakeDrbg("fields");
  auto key = catest::NewP256(drbg->rng());
  ca::CertSpec spec;
  spec.subject_dn = "CN=x";
  spec.serial = {0x01, 0x00, 0xab, 0x00};
  spec.not_before = kNow;
  spec.not_after = kNow + 90 * kDay;
  auto der = ca::SignCertificate(spec, *key->pk(), nullptr, *key->pk(), drbg->rng());
  REQUIRE(der.has_value());
  auto chain = catest::Parse(*der);
  CHECK(ca::CertSerialHex(*chain->get()) == "0100ab00");
  CHECK(ca::CertFingerprint(*chain->get()) == ca::Sha256Hex(*der));
  CHECK(ca::ToUnixTime(chain->get()->valid_from) == kNow);
  CHECK(ca::ToUnixTime(chain->get()->valid_to) == kNow + 90 * kDay);
}

TEST_CASE("DeviceIdOf reads CN or serialNumber") {
  auto drbg = catest::MakeDrbg("device id");
  auto chain = catest::Parse(CertWithSubject("CN=dev-1,serialNumber=SN-77,O=Acme", drbg->rng()));
  CHECK(ca::DeviceIdOf(*chain->get(), ca::IdentitySource::kCommonName) == "dev-1");
  CHECK(ca::DeviceIdOf(*chain->get(), ca::IdentitySource::kSerialNumber) == "SN-77");

  auto no_cn = catest::Parse(CertWithSubject("O=Acme,serialNumber=SN-1", drbg->rng()));
  auto missing = ca::DeviceIdOf(*no_cn->get(), ca::IdentitySource::kCommonName);
  REQUIRE(!missing.has_value());
  CHECK(missing.error().code == ca::Code::kPolicy);
  auto no_sn = catest::Parse(CertWithSubject("CN=dev-2", drbg->rng()));
  CHECK(ca::DeviceIdOf(*no_sn->get(), ca::IdentitySource::kSerialNumber).error().code ==
        ca::Code::kPolicy);
}

TEST_CASE("DeviceIdOf refuses ids that are not valid device ids") {
  auto drbg = catest::MakeDrbg("invalid id");
  // 65 characters; and a tab smuggled in through a hex escape.
  for (const std::string& subject : {"CN=" + std::string(65, 'a'), std::string("CN=dev\\09x")}) {
    auto chain = catest::Parse(CertWithSubject(subject, drbg->rng()));
    auto id = ca::DeviceIdOf(*chain->get(), ca::IdentitySource::kCommonName);
    REQUIRE(!id.has_value());
    CHECK(id.error().code == ca::Code::kPolicy);
  }
}

TEST_CASE("IsValidDeviceId: 1..64 bytes of printable ASCII") {
  CHECK(ca::IsValidDeviceId("a"));
  CHECK(ca::IsValidDeviceId(std::string(64, 'x')));
  CHECK(ca::IsValidDeviceId(" ~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}"));
  CHECK(!ca::IsValidDeviceId(""));
  CHECK(!ca::IsValidDeviceId(std::string(65, 'x')));
  CHECK(!ca::IsValidDeviceId("dev\n1"));
  CHECK(
      !ca::IsValidDeviceId(std::string_view("dev\0"
                                            "1",
                                            5)));
  CHECK(!ca::IsValidDeviceId("dev\x7f"));
  CHECK(!ca::IsValidDeviceId("d\xc3\xa9v"));  // UTF-8 "dév"
}

TEST_CASE("SanString reads back the URI SAN of an issued certificate") {
  auto drbg = ca::Drbg::ForTesting(std::vector<unsigned char>(32, 7));
  auto key = ca::PrivateKey::GenerateP256(drbg->rng());
  REQUIRE(key);
  ca::CertSpec spec{.subject_dn = "CN=x", .serial = {0x01}, .not_before = 1700000000,
                    .not_after = 1800000000, .key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE,
                    .dns_names = {"a.example"}, .uris = {"urn:provisiond:device:x"}};
  auto der = ca::SignCertificate(spec, *(*key)->pk(), nullptr, *(*key)->pk(), drbg->rng());
  REQUIRE(der);
  auto crt = ca::ParseCertificates(std::string(der->begin(), der->end()));
  REQUIRE(crt);
  CHECK(ca::SanString(*(*crt)->get()) == "DNS:a.example, URI:urn:provisiond:device:x");
}

TEST_CASE("NormalizeSerialHex yields one canonical form per integer") {
  // openssl prints the minimal unsigned bytes; DER adds a sign byte 00 when the first is >= 0x80.
  CHECK(ca::NormalizeSerialHex("8F00AB") == "8f00ab");
  CHECK(ca::NormalizeSerialHex("008f00ab") == "8f00ab");
  CHECK(ca::NormalizeSerialHex("8F:00:AB") == "8f00ab");
  CHECK(ca::NormalizeSerialHex("0x8f00ab") == "8f00ab");
  CHECK(ca::NormalizeSerialHex("0X0000008f00ab") == "8f00ab");
  CHECK(ca::NormalizeSerialHex("f00") == "0f00");  // odd length: a leading 0 digit
  CHECK(ca::NormalizeSerialHex("0100ab00") == "0100ab00");  // inner and trailing zeros kept
  CHECK(ca::NormalizeSerialHex("0") == "00");
  CHECK(ca::NormalizeSerialHex("0000") == "00");
  CHECK(ca::NormalizeSerialHex("7f") == "7f");
  for (const char* bad : {"", "0x", ":", "8g", "12 34", "-1", "0x0x12"}) {
    CAPTURE(bad);
    auto r = ca::NormalizeSerialHex(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ca::Code::kInvalidArgument);
  }
  CHECK(ca::NormalizeSerialHex(std::string(ca::kMaxSerialHexDigits, 'a')).has_value());
  CHECK_FALSE(ca::NormalizeSerialHex(std::string(ca::kMaxSerialHexDigits + 1, 'a')).has_value());
}
