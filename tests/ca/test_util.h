// test_util.h — helpers shared by the ca/ unit tests: deterministic RNGs, a throwaway CA, CSRs
// built with mbedtls_x509write_csr, a DER element builder, a reader for extension criticality
// (mbedTLS parses extensions but does not keep their critical flag) in certificates and CRLs,
// clock-free chain verification, and the code of an expected failure.
#pragma once

#include <doctest/doctest.h>
#include <mbedtls/asn1.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/rsa.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/scoped.h"
#include "ca/ca_key.h"
#include "ca/cert.h"
#include "ca/encoding.h"
#include "ca/keys.h"
#include "ca/rng.h"
#include "ca/signer.h"

namespace catest {

inline constexpr base::UnixTime kNow = 1777593600;  // 2026-05-01T00:00:00Z
inline constexpr base::UnixTime kDay = 86400;

using Pk = base::Scoped<mbedtls_pk_context, mbedtls_pk_init, mbedtls_pk_free>;

inline std::unique_ptr<ca::Drbg> MakeDrbg(std::string_view seed) {
  auto drbg = ca::Drbg::ForTesting(
      std::span(reinterpret_cast<const unsigned char*>(seed.data()), seed.size()));
  REQUIRE(drbg != nullptr);
  return drbg;
}

inline std::string_view AsText(const base::Bytes& der) {
  return std::string_view(reinterpret_cast<const char*>(der.data()), der.size());
}

inline std::unique_ptr<ca::PrivateKey> NewP256(ca::Rng rng) {
  auto key = ca::PrivateKey::GenerateP256(rng);
  REQUIRE(key.has_value());
  return std::move(*key);
}

// Fills an empty pk context with a fresh EC key on `curve`.
inline void GenerateEc(Pk& pk, mbedtls_ecp_group_id curve, ca::Rng rng) {
  REQUIRE(mbedtls_pk_setup(pk.get(), mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) == 0);
  REQUIRE(mbedtls_ecp_gen_key(curve, mbedtls_pk_ec(*pk.get()), rng.fill, rng.state) == 0);
}

// 1024 bits keeps the test fast; the check under test only looks at the key type.
inline void GenerateRsa(Pk& pk, ca::Rng rng, unsigned bits = 1024) {
  REQUIRE(mbedtls_pk_setup(pk.get(), mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) == 0);
  REQUIRE(mbedtls_rsa_gen_key(mbedtls_pk_rsa(*pk.get()), rng.fill, rng.state, bits, 65537) == 0);
}

inline base::Bytes PublicDer(const mbedtls_pk_context& pk) {
  auto der = ca::PublicKeyDer(pk);
  REQUIRE(der.has_value());
  return *der;
}

// A PKCS#10 request signed by `key` with `md`, subject in mbedTLS string form ("" = empty DN).
inline base::Bytes MakeCsr(mbedtls_pk_context* key, const std::string& subject, ca::Rng rng,
                           mbedtls_md_type_t md = MBEDTLS_MD_SHA256) {
  base::Scoped<mbedtls_x509write_csr, mbedtls_x509write_csr_init, mbedtls_x509write_csr_free> w;
  mbedtls_x509write_csr_set_key(w.get(), key);
  mbedtls_x509write_csr_set_md_alg(w.get(), md);
  // mbedTLS refuses "" as a name string; not setting one writes an empty SEQUENCE.
  if (!subject.empty())
    REQUIRE(mbedtls_x509write_csr_set_subject_name(w.get(), subject.c_str()) == 0);
  base::Bytes buf(4096);
  int len = mbedtls_x509write_csr_der(w.get(), buf.data(), buf.size(), rng.fill, rng.state);
  REQUIRE(len > 0);
  return base::Bytes(buf.end() - len, buf.end());
}

struct TestCa {
  std::unique_ptr<ca::PrivateKey> key;
  base::Bytes der;
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed P-256 CA valid from kNow - 1 day to not_after.
inline TestCa MakeCa(ca::Rng rng, base::UnixTime not_after = kNow + 3650 * kDay,
                     std::string subject = "CN=Test Root CA,O=provisiond tests",
                     bool is_ca = true) {
  TestCa out;
  out.key = NewP256(rng);
  ca::CertSpec spec;
  spec.subject_dn = std::move(subject);
  auto serial = ca::RandomSerial(rng);
  REQUIRE(serial.has_value());
  spec.serial = *serial;
  spec.not_before = kNow - kDay;
  spec.not_after = not_after;
  spec.is_ca = is_ca;
  spec.max_path_len = is_ca ? 0 : -1;
  spec.key_usage = is_ca ? (MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)
                         : MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
  auto der = ca::SignCertificate(spec, *out.key->pk(), nullptr, *out.key->pk(), rng);
  REQUIRE(der.has_value());
  out.der = *der;
  out.cert_pem = ca::DerToPem(out.der, "CERTIFICATE");
  auto key_pem = out.key->ToPem();
  REQUIRE(key_pem.has_value());
  out.key_pem = *key_pem;
  return out;
}

// A file CaKey holding the same private key as key (ca_key.h).
inline std::unique_ptr<ca::CaKey> FileKey(const ca::PrivateKey& key, ca::Rng rng) {
  auto pem = key.ToPem();
  REQUIRE(pem.has_value());
  auto loaded = ca::LoadFileCaKey(*pem, rng);
  REQUIRE(loaded.has_value());
  return std::move(*loaded);
}

inline std::unique_ptr<ca::CrtChain> Parse(const base::Bytes& der) {
  auto chain = ca::ParseCertificates(AsText(der));
  REQUIRE(chain.has_value());
  return std::move(*chain);
}

// A DER element with `tag` around `content` (lengths up to 65535).
inline base::Bytes Tlv(unsigned char tag, const base::Bytes& content) {
  base::Bytes out{tag};
  const size_t n = content.size();
  if (n < 0x80) {
    out.push_back(static_cast<unsigned char>(n));
  } else if (n < 0x100) {
    out.insert(out.end(), {0x81, static_cast<unsigned char>(n)});
  } else {
    out.insert(out.end(),
               {0x82, static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)});
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

struct Extension {
  bool critical = false;
  base::Bytes value;  // the extnValue OCTET STRING contents
};

// Finds `oid` in the Extensions SEQUENCE (SEQUENCE OF Extension) starting at p; `bound` only
// limits reading the outer tag (a certificate's v3_ext, a CRL's or a CRL entry's extensions).
inline std::optional<Extension> FindExtensionIn(unsigned char* p, const unsigned char* bound,
                                                const char* oid, size_t oid_len) {
  size_t len = 0;
  if (p == nullptr || mbedtls_asn1_get_tag(&p, bound, &len,
                                           MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) {
    return std::nullopt;
  }
  const unsigned char* end = p + len;
  while (p < end) {
    REQUIRE(mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) ==
            0);
    const unsigned char* ext_end = p + len;
    REQUIRE(mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OID) == 0);
    const bool match = len == oid_len && std::memcmp(p, oid, len) == 0;
    p += len;
    Extension ext;
    int critical = 0;
    if (mbedtls_asn1_get_bool(&p, ext_end, &critical) == 0) ext.critical = critical != 0;
    REQUIRE(mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING) == 0);
    ext.value.assign(p, p + len);
    p += len;
    if (match) return ext;
  }
  return std::nullopt;
}

// Walks crt.v3_ext (Extensions ::= SEQUENCE OF Extension) for the extension with `oid`.
inline std::optional<Extension> FindExtension(const mbedtls_x509_crt& crt, const char* oid,
                                              size_t oid_len) {
  if (crt.v3_ext.p == nullptr) return std::nullopt;
  return FindExtensionIn(crt.v3_ext.p, crt.v3_ext.p + crt.v3_ext.len, oid, oid_len);
}

#define CATEST_EXT(crt, OID) catest::FindExtension((crt), OID, MBEDTLS_OID_SIZE(OID))

// Chain verification (against `crl` too, if given) that ignores the wall clock: tests use fixed
// times, months from the clock mbedTLS reads, so only the time flags (the certificates' and the
// CRL's) are cleared and everything else (signature, CA bit, key usage, names, revocation) must
// pass.
inline int IgnoreTime(void*, mbedtls_x509_crt*, int, uint32_t* flags) {
  *flags &= ~static_cast<uint32_t>(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE |
                                   MBEDTLS_X509_BADCRL_EXPIRED | MBEDTLS_X509_BADCRL_FUTURE);
  return 0;
}

inline uint32_t VerifyAgainst(mbedtls_x509_crt* leaf, mbedtls_x509_crt* trust,
                              mbedtls_x509_crl* crl = nullptr) {
  uint32_t flags = 0;
  int ret = mbedtls_x509_crt_verify(leaf, trust, crl, nullptr, &flags, IgnoreTime, nullptr);
  return ret == 0 ? 0 : (flags == 0 ? 0xffffffffu : flags);
}

// The error code of a parse or check that must fail (REQUIREs that it did).
template <typename T>
ca::Code FailureCode(const ca::Result<T>& result) {
  REQUIRE(!result.has_value());
  return result.error().code;
}

}  // namespace catest
