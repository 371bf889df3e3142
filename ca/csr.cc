// csr.cc — PKCS#10 checks: size and framing, key type, signature algorithm and proof of
// possession (mbedtls_x509_csr_parse_der does not verify the self-signature, so we do).
#define MBEDTLS_ALLOW_PRIVATE_ACCESS  // csr.sig: the signature bytes have no public accessor
#include "ca/csr.h"

#include <mbedtls/asn1.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_csr.h>

#include <cstring>

#include "base/scoped.h"
#include "ca/csr_attribute_reader.h"
#include "ca/keys.h"

namespace ca {
namespace {

using Csr = base::Scoped<mbedtls_x509_csr, mbedtls_x509_csr_init, mbedtls_x509_csr_free>;

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
Result<void> CheckProofOfPossession(mbedtls_x509_csr& csr, std::span<const unsigned char> cri) {
  unsigned char hash[32];
  int ret = mbedtls_sha256(cri.data(), cri.size(), hash, 0);
  if (ret != 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_sha256", ret));
  ret = mbedtls_pk_verify(&csr.pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), csr.sig.p, csr.sig.len);
  if (ret != 0) {
    return Fail(Code::kBadSignature,
                "CSR self-signature: " + MbedtlsError("mbedtls_pk_verify", ret));
  }
  return {};
}

// The three parts of CertificationRequest ::= SEQUENCE { certificationRequestInfo,
// signatureAlgorithm, signature } and, inside the first, the bytes before the attributes.
struct CsrParts {
  std::span<const unsigned char> cri;         // whole CertificationRequestInfo TLV
  std::span<const unsigned char> cri_prefix;  // version, subject, subjectPKInfo TLVs
  std::span<const unsigned char> alg;         // signatureAlgorithm TLV
  std::span<const unsigned char> sig;         // signature TLV
};

// Reads one TLV with the expected tag at *p; returns its whole span and moves *p past it.
Result<std::span<const unsigned char>> Tlv(unsigned char** p, const unsigned char* end, int tag,
                                           const char* what) {
  unsigned char* start = *p;
  size_t len = 0;
  int ret = mbedtls_asn1_get_tag(p, end, &len, tag);
  if (ret != 0) return Fail(Code::kMalformed, std::string("CSR ") + what + ": " +
                                                   MbedtlsError("mbedtls_asn1_get_tag", ret));
  *p += len;
  return std::span<const unsigned char>(start, static_cast<size_t>(*p - start));
}

Result<CsrParts> SplitCsr(std::span<const unsigned char> der) {
  constexpr int kSeq = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
  unsigned char* p = const_cast<unsigned char*>(der.data());  // mbedTLS's reader only reads
  const unsigned char* end = der.data() + der.size();
  size_t len = 0;
  if (mbedtls_asn1_get_tag(&p, end, &len, kSeq) != 0) return Fail(Code::kMalformed, "CSR outer");
  CsrParts parts;
  auto cri = Tlv(&p, end, kSeq, "certificationRequestInfo");
  if (!cri) return std::unexpected(cri.error());
  auto alg = Tlv(&p, end, kSeq, "signatureAlgorithm");
  if (!alg) return std::unexpected(alg.error());
  auto sig = Tlv(&p, end, MBEDTLS_ASN1_BIT_STRING, "signature");
  if (!sig) return std::unexpected(sig.error());
  if (p != end) return Fail(Code::kMalformed, "CSR: bytes after the signature");
  parts.cri = *cri;
  parts.alg = *alg;
  parts.sig = *sig;
  unsigned char* q = const_cast<unsigned char*>(cri->data());
  const unsigned char* cri_end = cri->data() + cri->size();
  mbedtls_asn1_get_tag(&q, cri_end, &len, kSeq);  // cannot fail: read above
  unsigned char* prefix_start = q;
  for (auto [tag, what] : {std::pair{MBEDTLS_ASN1_INTEGER, "version"}, std::pair{kSeq, "subject"},
                           std::pair{kSeq, "subjectPKInfo"}}) {
    if (auto t = Tlv(&q, cri_end, tag, what); !t) return std::unexpected(t.error());
  }
  parts.cri_prefix = std::span<const unsigned char>(prefix_start, static_cast<size_t>(q - prefix_start));
  return parts;
}

// The same CSR with an empty attributes field: SEQ { SEQ { prefix, [0] {} }, alg, sig }.
base::Bytes WithoutAttributes(const CsrParts& parts) {
  base::Bytes cri_body(parts.cri_prefix.begin(), parts.cri_prefix.end());
  cri_body.push_back(0xa0);
  cri_body.push_back(0x00);
  auto wrap = [](unsigned char tag, const base::Bytes& body) {
    unsigned char hdr[8] = {};
    unsigned char* p = hdr + sizeof hdr;
    size_t n = mbedtls_asn1_write_len(&p, hdr, body.size());
    n += mbedtls_asn1_write_tag(&p, hdr, tag);
    base::Bytes out(p, p + n);
    out.insert(out.end(), body.begin(), body.end());
    return out;
  };
  base::Bytes outer = wrap(0x30, cri_body);
  outer.insert(outer.end(), parts.alg.begin(), parts.alg.end());
  outer.insert(outer.end(), parts.sig.begin(), parts.sig.end());
  return wrap(0x30, outer);
}

std::string_view Oid(const char* oid, size_t len) { return std::string_view(oid, len); }

}  // namespace

Result<CheckedCsr> CheckCsr(std::span<const unsigned char> der, CsrKey key) {
  if (auto framed = CheckFraming(der); !framed) return std::unexpected(framed.error());
  Csr csr;
  auto parts = SplitCsr(der);
  if (!parts) return std::unexpected(parts.error());
  // Requested extensions never reach the certificate (the profile decides), but mbedTLS refuses a
  // CSR whose critical extension it knows and has no parser for (e.g. basicConstraints asking
  // for CA:TRUE). So mbedTLS parses a copy with the attributes emptied, for the subject, key and
  // algorithm; the signature is verified over the ORIGINAL CertificationRequestInfo below.
  base::Bytes stripped = WithoutAttributes(*parts);
  int ret = mbedtls_x509_csr_parse_der(csr.get(), stripped.data(), stripped.size());
  if (ret != 0) return Fail(Code::kMalformed, MbedtlsError("mbedtls_x509_csr_parse_der", ret));
  const bool certify = key == CsrKey::kProofOfPossession;
  if (certify && !IsP256(csr->pk)) {
    return Fail(Code::kUnsupportedKey, "CSR key is " + DescribeKey(csr->pk) + ", need EC P-256");
  }
  if (auto alg = CheckSignatureAlg(*csr.get()); certify && !alg) {
    return std::unexpected(alg.error());
  }
  if (certify) {
    if (auto pop = CheckProofOfPossession(*csr.get(), parts->cri); !pop) {
      return std::unexpected(pop.error());
    }
  }

  auto challenge = ChallengePassword(parts->cri);
  if (!challenge) return std::unexpected(challenge.error());
  base::Bytes key_der;
  if (certify) {
    auto der_of_key = PublicKeyDer(csr->pk);
    if (!der_of_key) return std::unexpected(der_of_key.error());
    key_der = std::move(*der_of_key);
  }
  CheckedCsr checked;
  checked.subject = DnString(csr->subject);
  checked.common_name =
      DnAttribute(csr->subject, Oid(MBEDTLS_OID_AT_CN, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN)));
  checked.serial_number = DnAttribute(
      csr->subject,
      Oid(MBEDTLS_OID_AT_SERIAL_NUMBER, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_SERIAL_NUMBER)));
  checked.public_key_der = std::move(key_der);
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
