// csr_attribute_reader.cc — walks CertificationRequestInfo ::= SEQUENCE { version, subject,
// subjectPKInfo, attributes [0] IMPLICIT SET OF Attribute } (RFC 2986 §4.1) with bounds checks.
#include "ca/csr_attribute_reader.h"

#include <mbedtls/asn1.h>

#include <cstring>

namespace ca {
namespace {

// 1.2.840.113549.1.9.7
constexpr unsigned char kChallengePasswordOid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                                   0x0d, 0x01, 0x09, 0x07};
constexpr int kSeq = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
constexpr int kSet = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET;

Result<std::string> ReadStringValue(unsigned char* p, const unsigned char* end) {
  size_t len = 0;
  if (mbedtls_asn1_get_tag(&p, end, &len, kSet) != 0 || p + len != end) {
    return Fail(Code::kMalformed, "challengePassword values are not a SET");
  }
  if (p == end) return Fail(Code::kMalformed, "challengePassword has no value");
  const unsigned char tag = *p;
  if (tag != MBEDTLS_ASN1_UTF8_STRING && tag != MBEDTLS_ASN1_PRINTABLE_STRING &&
      tag != MBEDTLS_ASN1_IA5_STRING) {
    return Fail(Code::kMalformed, "challengePassword is not a string");
  }
  ++p;
  if (mbedtls_asn1_get_len(&p, end, &len) != 0 || p + len != end) {
    return Fail(Code::kMalformed, "challengePassword must hold exactly one value");
  }
  if (len > kMaxChallengePassword) return Fail(Code::kMalformed, "challengePassword too long");
  return std::string(reinterpret_cast<const char*>(p), len);
}

}  // namespace

Result<std::optional<std::string>> ChallengePassword(std::span<const unsigned char> cri) {
  unsigned char* p = const_cast<unsigned char*>(cri.data());  // mbedTLS's reader only reads
  const unsigned char* end = cri.data() + cri.size();
  size_t len = 0;
  if (mbedtls_asn1_get_tag(&p, end, &len, kSeq) != 0 || p + len != end) {
    return Fail(Code::kMalformed, "CertificationRequestInfo is not a SEQUENCE");
  }
  // Skip version, subject and subjectPKInfo.
  for (int tag : {MBEDTLS_ASN1_INTEGER, kSeq, kSeq}) {
    if (mbedtls_asn1_get_tag(&p, end, &len, tag) != 0) {
      return Fail(Code::kMalformed, "CertificationRequestInfo fields");
    }
    p += len;
  }
  if (p == end) return std::optional<std::string>();
  if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED) !=
          0 ||
      p + len != end) {
    return Fail(Code::kMalformed, "CSR attributes are not [0]");
  }
  std::optional<std::string> found;
  while (p < end) {
    size_t attr_len = 0;
    if (mbedtls_asn1_get_tag(&p, end, &attr_len, kSeq) != 0) {
      return Fail(Code::kMalformed, "CSR attribute is not a SEQUENCE");
    }
    const unsigned char* attr_end = p + attr_len;
    size_t oid_len = 0;
    if (mbedtls_asn1_get_tag(&p, attr_end, &oid_len, MBEDTLS_ASN1_OID) != 0) {
      return Fail(Code::kMalformed, "CSR attribute type");
    }
    const bool is_challenge = oid_len == sizeof kChallengePasswordOid &&
                              std::memcmp(p, kChallengePasswordOid, oid_len) == 0;
    p += oid_len;
    if (is_challenge) {
      if (found) return Fail(Code::kMalformed, "challengePassword repeated");
      auto value = ReadStringValue(p, attr_end);
      if (!value) return std::unexpected(value.error());
      found = std::move(*value);
    }
    p = const_cast<unsigned char*>(attr_end);
  }
  return found;
}

}  // namespace ca
