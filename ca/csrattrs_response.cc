// csrattrs_response.cc — builds the CsrAttrs DER (see csrattrs_response.h) with mbedTLS's ASN.1 writer.
#include "ca/csrattrs_response.h"

#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>

namespace ca {

base::Bytes CsrAttrsP256(bool with_challenge_password) {
  unsigned char buf[128] = {};
  unsigned char* p = buf + sizeof buf;
  size_t len = 0;
  // Written back to front, as mbedTLS's ASN.1 writer does. The buffer is far larger than the
  // fixed 40-odd bytes, so the writer cannot fail here.
  len += mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_ECDSA_SHA256,
                                MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256));
  size_t attr = 0;
  size_t set = mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_EC_GRP_SECP256R1,
                                      MBEDTLS_OID_SIZE(MBEDTLS_OID_EC_GRP_SECP256R1));
  set += mbedtls_asn1_write_len(&p, buf, set);
  set += mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET);
  attr += set;
  attr += mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_EC_ALG_UNRESTRICTED,
                                 MBEDTLS_OID_SIZE(MBEDTLS_OID_EC_ALG_UNRESTRICTED));
  attr += mbedtls_asn1_write_len(&p, buf, attr);
  attr += mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
  len += attr;
  if (with_challenge_password) {
    len += mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_PKCS9 "\x07", MBEDTLS_OID_SIZE(MBEDTLS_OID_PKCS9) + 1);
  }
  len += mbedtls_asn1_write_len(&p, buf, len);
  len += mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
  return base::Bytes(p, p + len);
}

}  // namespace ca
