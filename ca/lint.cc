// lint.cc — the operational profile as rules over a parsed certificate. Deliberately written
// without reference to issuer.cc's CertSpec: it re-derives every property from the DER, so a bug
// in how the TBS is built shows up here instead of in a device's certificate.
// ext_types, ca_istrue, key_usage, sig_md, sig_pk: parsed fields mbedTLS 3.6 marks private.
#define MBEDTLS_ALLOW_PRIVATE_ACCESS
#include "ca/lint.h"

#include <mbedtls/asn1.h>
#include <mbedtls/oid.h>

#include <cstring>
#include <string>

#include "ca/cdp.h"
#include "ca/cert.h"
#include "ca/keys.h"

namespace ca {
namespace {

std::unexpected<Error> Rule(const char* rule, const std::string& detail) {
  return Fail(Code::kPolicy, std::string(rule) + ": " + detail);
}

bool SameBytes(const mbedtls_x509_buf& a, const mbedtls_x509_buf& b) {
  return a.len == b.len && (a.len == 0 || std::memcmp(a.p, b.p, a.len) == 0);
}

// Whether the extension with `oid` is marked critical. mbedTLS parses extensions but does not
// keep the flag, so this walks crt.v3_ext (Extensions ::= SEQUENCE OF Extension), which mbedTLS
// has already validated. False if absent.
bool IsCritical(const mbedtls_x509_crt& crt, const char* oid, size_t oid_len) {
  unsigned char* p = crt.v3_ext.p;
  if (p == nullptr) return false;
  const unsigned char* const end = p + crt.v3_ext.len;
  size_t len = 0;
  if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) {
    return false;
  }
  while (p < end) {
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
      return false;
    unsigned char* const next = p + len;
    if (mbedtls_asn1_get_tag(&p, next, &len, MBEDTLS_ASN1_OID) != 0) return false;
    const bool match = len == oid_len && std::memcmp(p, oid, len) == 0;
    p += len;
    int critical = 0;
    if (match) return mbedtls_asn1_get_bool(&p, next, &critical) == 0 && critical != 0;
    p = next;
  }
  return false;
}

#define LINT_CRITICAL(crt, OID) IsCritical((crt), OID, MBEDTLS_OID_SIZE(OID))

Result<void> CheckSerial(const mbedtls_x509_buf& serial) {
  if (serial.tag != MBEDTLS_ASN1_INTEGER) return Rule("serial", "not an INTEGER");
  if (serial.len < 1 || serial.len > 20) {
    return Rule("serial", std::to_string(serial.len) + " octets, allowed 1..20");
  }
  if (serial.p[0] & 0x80) return Rule("serial", "negative");
  if (serial.p[0] == 0 && (serial.len == 1 || (serial.p[1] & 0x80) == 0)) {
    return Rule("serial", serial.len == 1 ? "zero" : "not minimally encoded");
  }
  return {};
}

Result<void> CheckNamesAndValidity(const mbedtls_x509_crt& crt, const mbedtls_x509_crt& ca) {
  if (!SameBytes(crt.issuer_raw, ca.subject_raw)) {
    return Rule("issuer", "\"" + DnString(crt.issuer) + "\" is not the CA's subject \"" +
                              DnString(ca.subject) + "\"");
  }
  const base::UnixTime nb = ToUnixTime(crt.valid_from), na = ToUnixTime(crt.valid_to);
  if (nb >= na) return Rule("validity", "notBefore is not before notAfter");
  if (nb < ToUnixTime(ca.valid_from)) return Rule("validity", "notBefore precedes the CA's");
  if (na > ToUnixTime(ca.valid_to)) return Rule("validity", "notAfter is after the CA's");
  return {};
}

Result<void> CheckUsage(const mbedtls_x509_crt& crt) {
  if (!(crt.ext_types & MBEDTLS_X509_EXT_BASIC_CONSTRAINTS))
    return Rule("basicConstraints", "absent");
  if (!LINT_CRITICAL(crt, MBEDTLS_OID_BASIC_CONSTRAINTS)) {
    return Rule("basicConstraints", "not critical");
  }
  if (crt.ca_istrue != 0) return Rule("basicConstraints", "cA is TRUE");

  if (!(crt.ext_types & MBEDTLS_X509_EXT_KEY_USAGE)) return Rule("keyUsage", "absent");
  if (!LINT_CRITICAL(crt, MBEDTLS_OID_KEY_USAGE)) return Rule("keyUsage", "not critical");
  if (!(crt.key_usage & MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) {
    return Rule("keyUsage", "lacks digitalSignature");
  }
  if (crt.key_usage & (MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)) {
    return Rule("keyUsage", "has keyCertSign or cRLSign");
  }

  if (!(crt.ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE)) return Rule("extKeyUsage", "absent");
  const mbedtls_x509_sequence& eku = crt.ext_key_usage;
  const mbedtls_x509_buf client_auth{
      MBEDTLS_ASN1_OID, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH),
      reinterpret_cast<unsigned char*>(const_cast<char*>(MBEDTLS_OID_CLIENT_AUTH))};
  if (eku.next != nullptr || !SameBytes(eku.buf, client_auth)) {
    return Rule("extKeyUsage", "not exactly clientAuth");
  }
  return {};
}

Result<void> CheckIdentifiersAndKey(const mbedtls_x509_crt& crt, const mbedtls_x509_crt& ca) {
  if (!(crt.ext_types & MBEDTLS_X509_EXT_SUBJECT_ALT_NAME) ||
      crt.subject_alt_names.buf.p == nullptr) {
    return Rule("subjectAltName", "absent");
  }
  if (crt.subject_key_id.len == 0) return Rule("subjectKeyId", "absent");
  if (ca.subject_key_id.len == 0 ||
      !SameBytes(crt.authority_key_id.keyIdentifier, ca.subject_key_id)) {
    return Rule("authorityKeyId", "keyIdentifier is not the CA's subjectKeyIdentifier");
  }
  if (!IsP256(crt.pk)) return Rule("subjectPublicKey", DescribeKey(crt.pk) + ", need EC P-256");
  return {};
}

Result<void> CheckCrlDistribution(const mbedtls_x509_crt& crt,
                                  const std::vector<std::string>* want) {
  auto cdp = ReadCrlDistributionPoints(crt);
  if (!cdp) return Rule("cRLDistributionPoints", cdp.error().detail);
  if (cdp->present && cdp->critical) return Rule("cRLDistributionPoints", "critical");
  for (const auto& url : cdp->urls) {
    if (!IsValidCrlUrl(url)) return Rule("cRLDistributionPoints", "not an http:// URL");
  }
  if (want == nullptr) return {};
  if (want->empty() && cdp->present) return Rule("cRLDistributionPoints", "present, none configured");
  if (!want->empty() && !cdp->present) return Rule("cRLDistributionPoints", "absent");
  if (cdp->urls != *want) return Rule("cRLDistributionPoints", "not the configured URLs");
  return {};
}

}  // namespace

Result<void> LintOperational(const mbedtls_x509_crt& crt, const mbedtls_x509_crt& ca,
                             const std::vector<std::string>* want_crl_urls) {
  if (crt.version != 3) return Rule("version", "v" + std::to_string(crt.version) + ", need v3");
  if (auto ok = CheckSerial(crt.serial); !ok) return ok;
  if (crt.sig_md != MBEDTLS_MD_SHA256 || crt.sig_pk != MBEDTLS_PK_ECDSA) {
    return Rule("signature", "not ecdsa-with-SHA256");
  }
  if (auto ok = CheckNamesAndValidity(crt, ca); !ok) return ok;
  if (auto ok = CheckUsage(crt); !ok) return ok;
  if (auto ok = CheckIdentifiersAndKey(crt, ca); !ok) return ok;
  return CheckCrlDistribution(crt, want_crl_urls);
}

}  // namespace ca
