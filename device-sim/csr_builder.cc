// csr_builder.cc — PKCS#10 via mbedtls_x509write_csr.
#include "device-sim/csr_builder.h"

#include <mbedtls/asn1write.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_csr.h>

#include <string>

#include "base/scoped.h"
#include "ca/signer.h"

namespace devsim {

ca::Result<base::Bytes> BuildCsr(std::string_view device_id, ca::PrivateKey& key, ca::Rng rng) {
  base::Scoped<mbedtls_x509write_csr, mbedtls_x509write_csr_init, mbedtls_x509write_csr_free> csr;
  const std::string subject = "CN=" + ca::EscapeDnValue(device_id);
  if (int ret = mbedtls_x509write_csr_set_subject_name(csr.get(), subject.c_str()); ret != 0) {
    return ca::Fail(ca::Code::kInvalidArgument,
                    ca::MbedtlsError("mbedtls_x509write_csr_set_subject_name", ret));
  }
  mbedtls_x509write_csr_set_key(csr.get(), key.pk());
  mbedtls_x509write_csr_set_md_alg(csr.get(), MBEDTLS_MD_SHA256);

  // The writer fills the buffer from its end; a P-256 CSR is a few hundred bytes.
  base::Bytes buf(2048);
  const int len = mbedtls_x509write_csr_der(csr.get(), buf.data(), buf.size(), rng.fill, rng.state);
  if (len < 0) {
    return ca::Fail(ca::Code::kCrypto, ca::MbedtlsError("mbedtls_x509write_csr_der", len));
  }
  return base::Bytes(buf.end() - len, buf.end());
}

namespace {

base::Bytes Tlv(unsigned char tag, const base::Bytes& body) {
  unsigned char hdr[8] = {};
  unsigned char* p = hdr + sizeof hdr;
  size_t n = mbedtls_asn1_write_len(&p, hdr, body.size());
  n += mbedtls_asn1_write_tag(&p, hdr, tag);
  base::Bytes out(p, p + n);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// version, subject and subjectPKInfo TLVs from the CertificationRequestInfo of `csr`.
ca::Result<base::Bytes> CriPrefix(const base::Bytes& csr) {
  constexpr int kSeq = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
  unsigned char* p = const_cast<unsigned char*>(csr.data());
  const unsigned char* end = csr.data() + csr.size();
  size_t len = 0;
  if (mbedtls_asn1_get_tag(&p, end, &len, kSeq) != 0 ||
      mbedtls_asn1_get_tag(&p, end, &len, kSeq) != 0) {
    return ca::Fail(ca::Code::kCrypto, "CSR we wrote does not parse");
  }
  unsigned char* start = p;
  for (int tag : {MBEDTLS_ASN1_INTEGER, kSeq, kSeq}) {
    if (mbedtls_asn1_get_tag(&p, end, &len, tag) != 0) {
      return ca::Fail(ca::Code::kCrypto, "CSR we wrote does not parse");
    }
    p += len;
  }
  return base::Bytes(start, p);
}

}  // namespace

ca::Result<base::Bytes> BuildCsrWithChallenge(std::string_view device_id, ca::PrivateKey& key,
                                              ca::Rng rng, std::string_view challenge_password) {
  auto plain = BuildCsr(device_id, key, rng);
  if (!plain) return plain;
  auto cri_body = CriPrefix(*plain);
  if (!cri_body) return cri_body;
  // [0] { SEQUENCE { challengePassword, SET { UTF8String } } }
  const base::Bytes oid =
      Tlv(MBEDTLS_ASN1_OID,
          base::Bytes(MBEDTLS_OID_PKCS9 "\x07",
                      MBEDTLS_OID_PKCS9 "\x07" + MBEDTLS_OID_SIZE(MBEDTLS_OID_PKCS9) + 1));
  base::Bytes value = Tlv(MBEDTLS_ASN1_SET | MBEDTLS_ASN1_CONSTRUCTED,
                          Tlv(MBEDTLS_ASN1_UTF8_STRING,
                              base::Bytes(challenge_password.begin(), challenge_password.end())));
  base::Bytes attribute = oid;
  attribute.insert(attribute.end(), value.begin(), value.end());
  const base::Bytes attributes =
      Tlv(MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED,
          Tlv(MBEDTLS_ASN1_SEQUENCE | MBEDTLS_ASN1_CONSTRUCTED, attribute));
  cri_body->insert(cri_body->end(), attributes.begin(), attributes.end());
  const base::Bytes cri = Tlv(MBEDTLS_ASN1_SEQUENCE | MBEDTLS_ASN1_CONSTRUCTED, *cri_body);

  unsigned char hash[32];
  if (mbedtls_sha256(cri.data(), cri.size(), hash, 0) != 0) {
    return ca::Fail(ca::Code::kCrypto, "sha256");
  }
  unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
  size_t sig_len = 0;
  int ret = mbedtls_pk_sign(key.pk(), MBEDTLS_MD_SHA256, hash, sizeof hash, sig, sizeof sig,
                            &sig_len, rng.fill, rng.state);
  if (ret != 0) return ca::Fail(ca::Code::kCrypto, ca::MbedtlsError("mbedtls_pk_sign", ret));
  base::Bytes alg_oid =
      Tlv(MBEDTLS_ASN1_OID,
          base::Bytes(MBEDTLS_OID_ECDSA_SHA256,
                      MBEDTLS_OID_ECDSA_SHA256 + MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256)));
  base::Bytes bits{0x00};
  bits.insert(bits.end(), sig, sig + sig_len);
  base::Bytes body = cri;
  const base::Bytes alg = Tlv(MBEDTLS_ASN1_SEQUENCE | MBEDTLS_ASN1_CONSTRUCTED, alg_oid);
  const base::Bytes bitstring = Tlv(MBEDTLS_ASN1_BIT_STRING, bits);
  body.insert(body.end(), alg.begin(), alg.end());
  body.insert(body.end(), bitstring.begin(), bitstring.end());
  return Tlv(MBEDTLS_ASN1_SEQUENCE | MBEDTLS_ASN1_CONSTRUCTED, body);
}

}  // namespace devsim
