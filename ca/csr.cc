// csr.cc — PKCS#10 checks: size and framing, key type, signature algorithm and proof of
// possession (mbedtls_x509_csr_parse_der does not verify the self-signature, so we do).
#define MBEDTLS_ALLOW_PRIVATE_ACCESS  // csr.sig: the signature bytes have no public accessor
#include "ca/csr.h"

#include <mbedtls/asn1.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_csr.h>

#include <cstring>

#include "ca/csr_attributes.h"
#include "ca/keys.h"
#include "ca/scoped.h"

namespace ca {
namespace {

using Csr = Scoped<mbedtls_x509_csr, mbedtls_x509_csr_init, mbedtls_x509_csr_free>;

// One outer SEQUENCE that covers the input exactly: mbedTLS tolerates trailing bytes, we do not,
// so a CSR has a single byte-exact form (what gets hashed and logged is what was checked).
Result<void> CheckFraming(std::span<const unsigned char> der) {
  if (der.empty()) return Fail(Code::kMalformed, "CSR is empty");
  if (der.size() > kMaxCsrDer) {
    return Fail(Code::kMalformed, "CSR is " + std::to_string(der.size()) + " bytes, limit " +
                                      std::to_string(kMaxCsrDer));
  }
  unsigned char* p = const_cast<unsigned char*>(der.data());  // get_tag only reads
  const unsigned char* end = der.data() + der.size();
  size_t len = 0;
  int ret = mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
  if (ret != 0) return Fail(Code::kMalformed, MbedtlsError("mbedtls_asn1_get_tag", ret));
  if (p + len != end) return Fail(Code::kMalformed, "trailing bytes after the CSR");
  return {};
}

Result<void> CheckSignatureAlg(const mbedtls_x509_csr& csr) {
  const bool is_ecdsa_sha256 =
      csr.sig_oid.len == MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256) &&
      std::memcmp(csr.sig_oid.p, MBEDTLS_OID_ECDSA_SHA256, csr.sig_oid.len) == 0;
  if (is_ecdsa_sha256) return {};
  const char* description = nullptr;
  if (mbedtls_oid_get_sig_alg_desc(&csr.sig_oid, &description) != 0) description = "unknown";
  return Fail(Code::kUnsupportedAlg,
              std::string("CSR signature algorithm ") + description + ", need ecdsa-with-SHA256");
}

// Proof of possession: the requester signed the CertificationRequestInfo with the private half
// of the key it wants certified.
Result<void> CheckProofOfPossession(mbedtls_x509_csr& csr) {
  unsigned char hash[32];
  int ret = mbedtls_sha256(csr.cri.p, csr.cri.len, hash, 0);
  if (ret != 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_sha256", ret));
  ret = mbedtls_pk_verify(&csr.pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), csr.sig.p, csr.sig.len);
  if (ret != 0) {
    return Fail(Code::kBadSignature,
                "CSR self-signature: " + MbedtlsError("mbedtls_pk_verify", ret));
  }
  return {};
}

std::string_view Oid(const char* oid, size_t len) { return std::string_view(oid, len); }

}  // namespace

Result<CheckedCsr> CheckCsr(std::span<const unsigned char> der) {
  if (auto framed = CheckFraming(der); !framed) return std::unexpected(framed.error());
  Csr csr;
  int ret = mbedtls_x509_csr_parse_der(csr.get(), der.data(), der.size());
  if (ret != 0) return Fail(Code::kMalformed, MbedtlsError("mbedtls_x509_csr_parse_der", ret));
  if (!IsP256(csr->pk)) {
    return Fail(Code::kUnsupportedKey, "CSR key is " + DescribeKey(csr->pk) + ", need EC P-256");
  }
  if (auto alg = CheckSignatureAlg(*csr.get()); !alg) return std::unexpected(alg.error());
  if (auto pop = CheckProofOfPossession(*csr.get()); !pop) return std::unexpected(pop.error());

  auto challenge = ChallengePassword(std::span<const unsigned char>(csr->cri.p, csr->cri.len));
  if (!challenge) return std::unexpected(challenge.error());
  auto key_der = PublicKeyDer(csr->pk);
  if (!key_der) return std::unexpected(key_der.error());
  CheckedCsr checked;
  checked.subject = DnString(csr->subject);
  checked.common_name =
      DnAttribute(csr->subject, Oid(MBEDTLS_OID_AT_CN, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN)));
  checked.serial_number = DnAttribute(
      csr->subject,
      Oid(MBEDTLS_OID_AT_SERIAL_NUMBER, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_SERIAL_NUMBER)));
  checked.public_key_der = std::move(*key_der);
  checked.challenge_password = std::move(*challenge);
  return checked;
}

Result<void> CheckCsrIdentity(const CheckedCsr& csr, std::string_view device_id,
                              IdentitySource source) {
  const bool by_cn = source == IdentitySource::kCommonName;
  const std::optional<std::string>& named = by_cn ? csr.common_name : csr.serial_number;
  if (!named || *named == device_id) return {};
  return Fail(Code::kIdentityMismatch, std::string("CSR ") +
                                           (by_cn ? "commonName" : "serialNumber") +
                                           " does not match the authenticated device id");
}

}  // namespace ca
