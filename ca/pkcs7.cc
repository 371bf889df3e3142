// pkcs7.cc — writes and reads the certs-only SignedData of RFC 7030 with mbedTLS's ASN.1 helpers.
// The reader is strict: exactly the shape the writer produces (and openssl/libest emit), every
// length checked against its parent, at most kMaxCerts certificates.
#include "ca/pkcs7.h"

#include <mbedtls/asn1.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>

#include <cstring>

namespace ca {
namespace {

constexpr size_t kMaxCerts = 16;
constexpr int kSequence = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
constexpr int kSet = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET;
constexpr int kContext0 = MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0;

// Writes a header (length + tag) in front of the `len` bytes already written before *p.
size_t WrapIn(unsigned char** p, unsigned char* start, size_t len, int tag) {
  size_t total = len;
  total += static_cast<size_t>(mbedtls_asn1_write_len(p, start, len));
  total += static_cast<size_t>(mbedtls_asn1_write_tag(p, start, static_cast<unsigned char>(tag)));
  return total;
}

size_t WriteOid(unsigned char** p, unsigned char* start, const char* oid, size_t oid_len) {
  return static_cast<size_t>(mbedtls_asn1_write_oid(p, start, oid, oid_len));
}

// Reads a TLV with `tag` and requires it to end exactly at `end` (no trailing bytes).
bool EnterExact(unsigned char** p, const unsigned char* end, int tag) {
  size_t len = 0;
  if (mbedtls_asn1_get_tag(p, end, &len, tag) != 0) return false;
  return *p + len == end;
}

bool ExpectOid(unsigned char** p, const unsigned char* end, const char* oid, size_t oid_len) {
  size_t len = 0;
  if (mbedtls_asn1_get_tag(p, end, &len, MBEDTLS_ASN1_OID) != 0) return false;
  if (len != oid_len || std::memcmp(*p, oid, len) != 0) return false;
  *p += len;
  return true;
}

Result<std::vector<base::Bytes>> ReadCertificates(unsigned char* p, const unsigned char* end) {
  std::vector<base::Bytes> certs;
  while (p < end) {
    if (certs.size() == kMaxCerts)
      return Fail(Code::kMalformed, "PKCS#7: more than 16 certificates");
    unsigned char* cert_start = p;
    size_t len = 0;
    if (mbedtls_asn1_get_tag(&p, end, &len, kSequence) != 0) {
      return Fail(Code::kMalformed, "PKCS#7: certificate is not a SEQUENCE");
    }
    p += len;
    certs.emplace_back(cert_start, p);
  }
  return certs;
}

}  // namespace

base::Bytes CertsOnlyPkcs7(std::span<const base::Bytes> certs_der) {
  size_t certs_len = 0;
  for (const base::Bytes& cert : certs_der) certs_len += cert.size();
  base::Bytes buf(certs_len + 128);  // the fixed framing is < 60 bytes plus up to 6 headers of 5
  unsigned char* start = buf.data();
  unsigned char* p = buf.data() + buf.size();

  size_t signed_len = WrapIn(&p, start, 0, kSet);  // signerInfos: empty
  size_t certs_total = 0;
  for (size_t i = certs_der.size(); i-- > 0;) {
    certs_total += static_cast<size_t>(
        mbedtls_asn1_write_raw_buffer(&p, start, certs_der[i].data(), certs_der[i].size()));
  }
  signed_len += WrapIn(&p, start, certs_total, kContext0);  // certificates [0] IMPLICIT SET OF
  signed_len +=
      WrapIn(&p, start,
             WriteOid(&p, start, MBEDTLS_OID_PKCS7_DATA, MBEDTLS_OID_SIZE(MBEDTLS_OID_PKCS7_DATA)),
             kSequence);                     // encapContentInfo, no content
  signed_len += WrapIn(&p, start, 0, kSet);  // digestAlgorithms: empty
  signed_len += static_cast<size_t>(mbedtls_asn1_write_int(&p, start, 1));  // version
  size_t inner = WrapIn(&p, start, signed_len, kSequence);
  size_t content_info = WrapIn(&p, start, inner, kContext0);  // content [0] EXPLICIT
  content_info += WriteOid(&p, start, MBEDTLS_OID_PKCS7_SIGNED_DATA,
                           MBEDTLS_OID_SIZE(MBEDTLS_OID_PKCS7_SIGNED_DATA));
  const size_t total = WrapIn(&p, start, content_info, kSequence);
  return base::Bytes(buf.end() - static_cast<ptrdiff_t>(total), buf.end());
}

Result<std::vector<base::Bytes>> ParseCertsOnlyPkcs7(std::span<const unsigned char> der) {
  auto malformed = [](const char* what) {
    return Fail(Code::kMalformed, std::string("PKCS#7: ") + what);
  };
  unsigned char* p = const_cast<unsigned char*>(der.data());  // mbedtls_asn1_get_* only read
  const unsigned char* end = der.data() + der.size();
  if (!EnterExact(&p, end, kSequence)) return malformed("ContentInfo is not one SEQUENCE");
  if (!ExpectOid(&p, end, MBEDTLS_OID_PKCS7_SIGNED_DATA,
                 MBEDTLS_OID_SIZE(MBEDTLS_OID_PKCS7_SIGNED_DATA))) {
    return malformed("content type is not signedData");
  }
  if (!EnterExact(&p, end, kContext0)) return malformed("bad [0] content");
  if (!EnterExact(&p, end, kSequence)) return malformed("SignedData is not a SEQUENCE");
  int version = 0;
  if (mbedtls_asn1_get_int(&p, end, &version) != 0 || version != 1)
    return malformed("version is not 1");
  size_t len = 0;
  if (mbedtls_asn1_get_tag(&p, end, &len, kSet) != 0) return malformed("bad digestAlgorithms");
  p += len;  // ignored: nothing is signed
  if (mbedtls_asn1_get_tag(&p, end, &len, kSequence) != 0) return malformed("bad encapContentInfo");
  const unsigned char* eci_end = p + len;
  if (!ExpectOid(&p, eci_end, MBEDTLS_OID_PKCS7_DATA, MBEDTLS_OID_SIZE(MBEDTLS_OID_PKCS7_DATA)) ||
      p != eci_end) {
    return malformed("encapContentInfo is not empty id-data");
  }
  if (mbedtls_asn1_get_tag(&p, end, &len, kContext0) != 0) return malformed("no certificates");
  auto certs = ReadCertificates(p, p + len);
  if (!certs) return certs;
  p += len;
  if (!EnterExact(&p, end, kSet) || p != end) return malformed("signerInfos is not an empty SET");
  return certs;
}

}  // namespace ca
