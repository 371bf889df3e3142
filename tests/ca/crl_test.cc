// crl_test.cc — tests ca/crl.cc: CRLs read back with mbedTLS's CRL parser, used in mbedTLS chain
// verification (which checks their signature), and, when the binary is installed, by openssl.
#include "ca/crl.h"

#include <doctest/doctest.h>
#include <mbedtls/x509_crl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "tests/ca/test_util.h"

namespace {

using catest::kDay;
using catest::FindExtensionIn;
using catest::kNow;
using catest::VerifyAgainst;
using Crl = base::Scoped<mbedtls_x509_crl, mbedtls_x509_crl_init, mbedtls_x509_crl_free>;

std::unique_ptr<Crl> ParseCrl(const base::Bytes& der) {
  auto crl = std::make_unique<Crl>();
  REQUIRE(mbedtls_x509_crl_parse_der(crl->get(), der.data(), der.size()) == 0);
  return crl;
}

base::Bytes BufBytes(const mbedtls_x509_buf& b) { return base::Bytes(b.p, b.p + b.len); }

const char kReasonOid[] = MBEDTLS_OID_ID_CE "\x15";

// The reasonCode of a parsed entry, or nullopt when the entry has no such extension.
std::optional<int> EntryReason(const mbedtls_x509_crl_entry& entry) {
  auto ext = FindExtensionIn(entry.entry_ext.p, entry.raw.p + entry.raw.len, kReasonOid,
                             sizeof(kReasonOid) - 1);
  if (!ext) return std::nullopt;
  CHECK_FALSE(ext->critical);
  unsigned char* p = ext->value.data();
  int reason = -1;
  REQUIRE(mbedtls_asn1_get_enum(&p, p + ext->value.size(), &reason) == 0);
  return reason;
}

// The tag bytes of thisUpdate and nextUpdate, which follow the issuer name in TBSCertList.
std::pair<int, int> TimeTags(const mbedtls_x509_crl& crl) {
  unsigned char* p = crl.issuer_raw.p + crl.issuer_raw.len;
  const int this_tag = *p++;
  size_t len = 0;
  REQUIRE(mbedtls_asn1_get_len(&p, crl.tbs.p + crl.tbs.len, &len) == 0);
  return {this_tag, p[len]};
}

struct Fixture {
  std::unique_ptr<ca::Drbg> drbg = catest::MakeDrbg("crl tests");
  catest::TestCa ca = catest::MakeCa(drbg->rng());
  std::unique_ptr<ca::CrtChain> ca_crt = catest::Parse(ca.der);
  std::unique_ptr<ca::CaKey> ca_key = catest::FileKey(*ca.key, drbg->rng());

  ca::Rng rng() { return drbg->rng(); }
  const mbedtls_x509_crt& cert() { return *ca_crt->get(); }
  const mbedtls_pk_context& key() { return *ca.key->pk(); }
  ca::CaKey& signing_key() { return *ca_key; }

  // A device certificate issued by the CA, valid from kNow - 1 day for a year.
  std::unique_ptr<ca::CrtChain> IssueLeaf(const std::string& cn) {
    auto leaf_key = catest::NewP256(rng());
    ca::CertSpec spec;
    spec.subject_dn = "CN=" + cn;
    spec.serial = *ca::RandomSerial(rng());
    spec.not_before = kNow - kDay;
    spec.not_after = kNow + 365 * kDay;
    spec.key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
    spec.ext_key_usage = {ca::Eku::kClientAuth};
    auto der = ca::SignCertificate(spec, *leaf_key->pk(), ca_crt->get(), key(), rng());
    REQUIRE(der.has_value());
    return catest::Parse(*der);
  }

  base::Bytes Sign(const ca::CrlSpec& spec) {
    auto der = ca::SignCrl(spec, cert(), signing_key(), rng());
    if (!der) FAIL(der.error().detail);
    return *der;
  }
};

ca::CrlSpec BaseSpec() {
  return ca::CrlSpec{.this_update = kNow, .next_update = kNow + 7 * kDay, .crl_number = {0x2a}};
}

// BaseSpec revoking `leaf` for keyCompromise a minute before kNow.
ca::CrlSpec RevokingSpec(const mbedtls_x509_crt& leaf) {
  ca::CrlSpec spec = BaseSpec();
  spec.revoked = {{.serial = BufBytes(leaf.serial),
                   .revocation_date = kNow - 60,
                   .reason = ca::kReasonKeyCompromise}};
  return spec;
}

TEST_CASE("SignCrl: an empty CRL is v2, names the CA exactly and carries AKI and cRLNumber") {
  Fixture f;
  ca::CrlSpec spec = BaseSpec();
  spec.crl_number = {0x01, 0x00};  // 256
  auto crl = ParseCrl(f.Sign(spec));
  CHECK(crl->get()->version == 2);
  CHECK(BufBytes(crl->get()->issuer_raw) == BufBytes(f.cert().subject_raw));
  CHECK(ca::ToUnixTime(crl->get()->this_update) == kNow);
  CHECK(ca::ToUnixTime(crl->get()->next_update) == kNow + 7 * kDay);
  CHECK(crl->get()->entry.serial.len == 0);  // no revokedCertificates
  CHECK(crl->get()->next == nullptr);

  const mbedtls_x509_buf& exts = crl->get()->crl_ext;
  auto number = FindExtensionIn(exts.p, exts.p + exts.len, MBEDTLS_OID_CRL_NUMBER,
                                MBEDTLS_OID_SIZE(MBEDTLS_OID_CRL_NUMBER));
  REQUIRE(number.has_value());
  CHECK_FALSE(number->critical);
  CHECK(number->value == base::Bytes{0x02, 0x02, 0x01, 0x00});

  auto aki = FindExtensionIn(exts.p, exts.p + exts.len, MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER,
                             MBEDTLS_OID_SIZE(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER));
  REQUIRE(aki.has_value());
  CHECK_FALSE(aki->critical);
  const base::Bytes ski = BufBytes(f.cert().subject_key_id);
  REQUIRE(ski.size() == 20);
  base::Bytes expected = {0x30, 22, 0x80, 20};
  expected.insert(expected.end(), ski.begin(), ski.end());
  CHECK(aki->value == expected);
}

TEST_CASE("SignCrl: entries keep serial, date and reason, and unspecified writes no reasonCode") {
  Fixture f;
  ca::CrlSpec spec = BaseSpec();
  spec.revoked = {
      {.serial = {0x01}, .revocation_date = kNow - 3 * kDay, .reason = ca::kReasonKeyCompromise},
      {.serial = {0x00, 0x80, 0x01}, .revocation_date = kNow - kDay, .reason = 0},
      {.serial = base::Bytes(20, 0x7f), .revocation_date = kNow, .reason = ca::kReasonAaCompromise},
      {.serial = {0x42}, .revocation_date = kNow - 60, .reason = ca::kReasonCertificateHold},
  };
  auto crl = ParseCrl(f.Sign(spec));
  const mbedtls_x509_crl_entry* entry = &crl->get()->entry;
  for (const ca::RevokedEntry& want : spec.revoked) {
    CAPTURE(ca::HexLower(want.serial));
    REQUIRE(entry != nullptr);
    CHECK(BufBytes(entry->serial) == want.serial);
    CHECK(ca::ToUnixTime(entry->revocation_date) == want.revocation_date);
    if (want.reason == 0) {
      CHECK(entry->entry_ext.len == 0);
    } else {
      CHECK(EntryReason(*entry) == want.reason);
    }
    entry = entry->next;
  }
  CHECK(entry == nullptr);
}

TEST_CASE("SignCrl: UTCTime through 2049, GeneralizedTime from 2050") {
  Fixture f;
  const base::UnixTime end_2049 = 2524607999;  // 2049-12-31T23:59:59Z
  ca::CrlSpec spec = BaseSpec();
  spec.this_update = end_2049;
  spec.next_update = end_2049 + 1;
  spec.revoked = {{.serial = {0x05}, .revocation_date = end_2049 + 1, .reason = 1}};
  auto crl = ParseCrl(f.Sign(spec));
  CHECK(TimeTags(*crl->get()) ==
        std::pair<int, int>{MBEDTLS_ASN1_UTC_TIME, MBEDTLS_ASN1_GENERALIZED_TIME});
  CHECK(ca::ToUnixTime(crl->get()->this_update) == end_2049);
  CHECK(ca::ToUnixTime(crl->get()->next_update) == end_2049 + 1);
  CHECK(ca::ToUnixTime(crl->get()->entry.revocation_date) == end_2049 + 1);

  spec.this_update = -631152000;    // 1950-01-01T00:00:00Z, the first UTCTime
  spec.next_update = 253402300799;  // 9999-12-31T23:59:59Z, the last GeneralizedTime
  crl = ParseCrl(f.Sign(spec));
  CHECK(ca::ToUnixTime(crl->get()->this_update) == spec.this_update);
  CHECK(ca::ToUnixTime(crl->get()->next_update) == spec.next_update);
}

TEST_CASE("SignCrl: mbedTLS chain verification sees the revoked certificate and only it") {
  Fixture f;
  auto revoked = f.IssueLeaf("dev-revoked");
  auto good = f.IssueLeaf("dev-good");
  const ca::CrlSpec spec = RevokingSpec(*revoked->get());
  auto crl = ParseCrl(f.Sign(spec));
  CHECK(VerifyAgainst(revoked->get(), f.ca_crt->get(), crl->get()) ==
        MBEDTLS_X509_BADCERT_REVOKED);
  CHECK(VerifyAgainst(good->get(), f.ca_crt->get(), crl->get()) == 0);

  // An empty CRL revokes nothing.
  auto empty = ParseCrl(f.Sign(BaseSpec()));
  CHECK(VerifyAgainst(revoked->get(), f.ca_crt->get(), empty->get()) == 0);
}

TEST_CASE("SignCrl: a CRL with a bad signature is not trusted and revokes nothing") {
  Fixture f;
  auto leaf = f.IssueLeaf("dev-1");
  ca::CrlSpec spec = BaseSpec();
  spec.revoked = {{.serial = BufBytes(leaf->get()->serial), .revocation_date = kNow, .reason = 4}};

  // Same issuer name, different key: mbedTLS matches the CRL by name, then fails its signature.
  auto other_drbg = catest::MakeDrbg("another CA under the same name");
  catest::TestCa other = catest::MakeCa(other_drbg->rng());
  auto other_crt = catest::Parse(other.der);
  REQUIRE(BufBytes(other_crt->get()->subject_raw) == BufBytes(f.cert().subject_raw));
  auto other_key = catest::FileKey(*other.key, other_drbg->rng());
  auto forged = ca::SignCrl(spec, *other_crt->get(), *other_key, other_drbg->rng());
  REQUIRE(forged.has_value());
  CHECK(VerifyAgainst(leaf->get(), f.ca_crt->get(), ParseCrl(*forged)->get()) ==
        MBEDTLS_X509_BADCRL_NOT_TRUSTED);

  base::Bytes tampered = f.Sign(spec);
  tampered.back() ^= 0x01;  // the last octet of the signature's s
  CHECK(VerifyAgainst(leaf->get(), f.ca_crt->get(), ParseCrl(tampered)->get()) ==
        MBEDTLS_X509_BADCRL_NOT_TRUSTED);
}

TEST_CASE("SignCrl: the buffer holds the largest entries") {
  Fixture f;
  ca::CrlSpec spec = BaseSpec();
  spec.crl_number = base::Bytes(20, 0x7f);
  for (unsigned i = 0; i < 2000; ++i) {
    base::Bytes serial(20, 0xff);
    serial[0] = 0x7f;
    serial[18] = static_cast<unsigned char>(i >> 8);
    serial[19] = static_cast<unsigned char>(i);
    // GeneralizedTime (2050+) and a reasonCode: the longest an entry gets.
    spec.revoked.push_back({.serial = serial, .revocation_date = 2524608000 + i, .reason = 10});
  }
  auto crl = ParseCrl(f.Sign(spec));
  size_t count = 0;
  for (const mbedtls_x509_crl_entry* e = &crl->get()->entry; e != nullptr; e = e->next) {
    CHECK(e->serial.len == 20);
    ++count;
  }
  CHECK(count == 2000);
}

TEST_CASE("SignCrl: refuses bad specs with kInvalidArgument") {
  Fixture f;
  using Mutation = std::function<void(ca::CrlSpec&, ca::RevokedEntry&)>;
  const std::vector<std::pair<const char*, Mutation>> cases = {
      {"nextUpdate == thisUpdate", [](auto& s, auto&) { s.next_update = s.this_update; }},
      {"nextUpdate < thisUpdate", [](auto& s, auto&) { s.next_update = s.this_update - 1; }},
      {"thisUpdate before 1950", [](auto& s, auto&) { s.this_update = -631152001; }},
      {"nextUpdate after 9999", [](auto& s, auto&) { s.next_update = 253402300800; }},
      {"thisUpdate INT64_MIN", [](auto& s, auto&) { s.this_update = INT64_MIN; }},
      {"nextUpdate INT64_MAX", [](auto& s, auto&) { s.next_update = INT64_MAX; }},
      {"empty CRL number", [](auto& s, auto&) { s.crl_number = {}; }},
      {"CRL number zero", [](auto& s, auto&) { s.crl_number = {0x00}; }},
      {"negative CRL number", [](auto& s, auto&) { s.crl_number = {0x80}; }},
      {"CRL number 21 octets", [](auto& s, auto&) { s.crl_number = base::Bytes(21, 0x01); }},
      {"serial 21 octets", [](auto&, auto& e) { e.serial = base::Bytes(21, 0x01); }},
      {"empty serial", [](auto&, auto& e) { e.serial = {}; }},
      {"negative serial",
       [](auto&, auto& e) {
         e.serial = {0xff, 0x01};
       }},
      {"padded serial",
       [](auto&, auto& e) {
         e.serial = {0x00, 0x01};
       }},
      {"zero serial", [](auto&, auto& e) { e.serial = {0x00}; }},
      {"reason -1", [](auto&, auto& e) { e.reason = -1; }},
      {"reason 7", [](auto&, auto& e) { e.reason = 7; }},
      {"reason removeFromCRL", [](auto&, auto& e) { e.reason = ca::kReasonRemoveFromCrl; }},
      {"reason 11", [](auto&, auto& e) { e.reason = 11; }},
      {"revocation date INT64_MIN", [](auto&, auto& e) { e.revocation_date = INT64_MIN; }},
      {"duplicate serial", [](auto& s, auto& e) { s.revoked.push_back(e); }},
  };
  for (const auto& [name, mutate] : cases) {
    CAPTURE(name);
    ca::CrlSpec spec = BaseSpec();
    ca::RevokedEntry entry{.serial = {0x01}, .revocation_date = kNow, .reason = 1};
    mutate(spec, entry);
    spec.revoked.push_back(entry);
    auto der = ca::SignCrl(spec, f.cert(), f.signing_key(), f.rng());
    REQUIRE_FALSE(der.has_value());
    CHECK(der.error().code == ca::Code::kInvalidArgument);
  }
}

TEST_CASE("SignCrl: refuses a CA it cannot sign a usable CRL for") {
  Fixture f;
  const ca::CrlSpec spec = BaseSpec();

  auto other_key = catest::FileKey(*catest::NewP256(f.rng()), f.rng());
  auto mismatched = ca::SignCrl(spec, f.cert(), *other_key, f.rng());
  REQUIRE_FALSE(mismatched.has_value());
  CHECK(mismatched.error().code == ca::Code::kInvalidArgument);

  // An RSA key cannot become a CA key at all (ca_key.h accepts EC P-256 only).
  catest::Pk rsa;
  catest::GenerateRsa(rsa, f.rng());
  unsigned char pem[4096];
  REQUIRE(mbedtls_pk_write_key_pem(rsa.get(), pem, sizeof(pem)) == 0);
  auto rsa_key = ca::LoadFileCaKey(reinterpret_cast<const char*>(pem), f.rng());
  REQUIRE_FALSE(rsa_key.has_value());
  CHECK(rsa_key.error().code == ca::Code::kUnsupportedKey);

  // keyUsage digitalSignature only: verifiers would refuse its CRLs.
  catest::TestCa no_crl_sign = catest::MakeCa(f.rng(), kNow + kDay, "CN=Not a CA", false);
  auto no_crl_sign_crt = catest::Parse(no_crl_sign.der);
  auto refused = ca::SignCrl(spec, *no_crl_sign_crt->get(),
                             *catest::FileKey(*no_crl_sign.key, f.rng()), f.rng());
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == ca::Code::kInvalidArgument);

  // No subjectKeyIdentifier to put in the AKI (a shallow copy; the original owns the memory).
  mbedtls_x509_crt no_ski = f.cert();
  no_ski.subject_key_id = {};
  auto no_aki = ca::SignCrl(spec, no_ski, f.signing_key(), f.rng());
  REQUIRE_FALSE(no_aki.has_value());
  CHECK(no_aki.error().code == ca::Code::kInvalidArgument);
}

TEST_CASE("RevocationReasonCode and RevocationReasonName round-trip the RFC 5280 names") {
  for (int code = -1; code <= 11; ++code) {
    CAPTURE(code);
    const char* name = ca::RevocationReasonName(code);
    if (code < 0 || code == 7 || code > 10) {
      CHECK(name == nullptr);
      continue;
    }
    REQUIRE(name != nullptr);
    CHECK(ca::RevocationReasonCode(name) == code);
  }
  CHECK(ca::RevocationReasonCode("keyCompromise") == 1);
  CHECK(ca::RevocationReasonCode("KEYCOMPROMISE") == 1);
  CHECK(ca::RevocationReasonCode("cACompromise") == 2);
  CHECK(ca::RevocationReasonCode("removeFromCRL") == 8);
  CHECK(std::string(ca::RevocationReasonName(10)) == "aACompromise");
  CHECK_FALSE(ca::RevocationReasonCode("").has_value());
  CHECK_FALSE(ca::RevocationReasonCode("key compromise").has_value());
  CHECK_FALSE(ca::RevocationReasonCode("keyCompromise ").has_value());
  CHECK_FALSE(ca::RevocationReasonCode("1").has_value());
}

void WriteFile(const std::filesystem::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  REQUIRE(out.good());
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int Run(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_CASE("SignCrl: openssl verifies the CRL and refuses the revoked certificate") {
  if (Run("openssl version >/dev/null 2>&1") != 0) {
    MESSAGE("openssl not installed: skipped");
    return;
  }
  Fixture f;
  auto revoked = f.IssueLeaf("dev-revoked");
  auto good = f.IssueLeaf("dev-good");
  const ca::CrlSpec spec = RevokingSpec(*revoked->get());
  const base::Bytes crl = f.Sign(spec);

  std::string dir_template = (std::filesystem::temp_directory_path() / "crl_test.XXXXXX").string();
  REQUIRE(mkdtemp(dir_template.data()) != nullptr);
  const std::filesystem::path dir = dir_template;
  WriteFile(dir / "ca.pem", f.ca.cert_pem);
  WriteFile(dir / "crl.der", catest::AsText(crl));
  WriteFile(dir / "crl.pem", ca::DerToPem(crl, "X509 CRL"));
  WriteFile(dir / "revoked.pem", ca::DerToPem(ca::CertDer(*revoked->get()), "CERTIFICATE"));
  WriteFile(dir / "good.pem", ca::DerToPem(ca::CertDer(*good->get()), "CERTIFICATE"));
  const std::string d = "'" + dir.string() + "/";
  const std::string quiet = " >" + d + "out.txt' 2>&1";

  CHECK(Run("openssl crl -inform DER -in " + d + "crl.der' -noout -verify -CAfile " + d +
            "ca.pem'" + quiet) == 0);
  CHECK(ReadFile(dir / "out.txt").find("verify OK") != std::string::npos);
  CHECK(Run("openssl crl -inform DER -in " + d + "crl.der' -noout -text" + quiet) == 0);
  const std::string text = ReadFile(dir / "out.txt");
  CHECK(text.find("X509v3 CRL Number") != std::string::npos);
  CHECK(text.find("X509v3 Authority Key Identifier") != std::string::npos);
  CHECK(text.find("Key Compromise") != std::string::npos);

  // -attime: the CRL and certificates are valid around kNow, not at the wall-clock time.
  const std::string verify = "openssl verify -attime " + std::to_string(kNow + 3600) +
                             " -crl_check -CAfile " + d + "ca.pem' -CRLfile " + d + "crl.pem' ";
  CHECK(Run(verify + d + "good.pem'" + quiet) == 0);
  CHECK(Run(verify + d + "revoked.pem'" + quiet) != 0);
  CHECK(ReadFile(dir / "out.txt").find("certificate revoked") != std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
