// tbs.cc — assembles a TBSCertificate field by field with mbedTLS's asn1write primitives, in the
// same encoding mbedtls_x509write_crt_der uses, so the operational certificate exists (and can be
// recorded and linted) before the CA key signs anything. mbedtls_x509write_crt_der cannot do this:
// it always signs, and it needs the issuer's private key to do so.
// x509write_cert.extensions (reuse SetExtensions' encodings); x509_crt.sig_md and sig_pk.
#define MBEDTLS_ALLOW_PRIVATE_ACCESS
#include "ca/tbs.h"

#include <mbedtls/asn1write.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "base/scoped.h"
#include "ca/civil_time.h"
#include "ca/signer_extensions.h"

namespace ca {
namespace {

// AlgorithmIdentifier { ecdsa-with-SHA256 } with parameters absent (RFC 5758 section 3.2).
constexpr unsigned char kEcdsaSha256AlgId[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                               0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};

using CrtWriter =
    base::Scoped<mbedtls_x509write_cert, mbedtls_x509write_crt_init, mbedtls_x509write_crt_free>;

struct NameList {
  mbedtls_asn1_named_data* head = nullptr;
  NameList() = default;
  NameList(const NameList&) = delete;
  NameList& operator=(const NameList&) = delete;
  ~NameList() { mbedtls_asn1_free_named_data_list(&head); }
};

struct DerTime {
  int tag;
  std::string text;
};

// RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, both in seconds with 'Z'.
Result<DerTime> EncodeTime(base::UnixTime t) {
  auto digits = CertificateTimeDigits(t);
  if (!digits) return std::unexpected(digits.error());
  const bool utc = digits->compare(0, 4, "2050") < 0;
  return DerTime{utc ? MBEDTLS_ASN1_UTC_TIME : MBEDTLS_ASN1_GENERALIZED_TIME,
                 (utc ? digits->substr(2) : *digits) + "Z"};
}

// The writers below follow mbedTLS's asn1write convention: write backwards ending at *p, never
// before start, return the bytes written or a negative mbedTLS error.

// A header (length, then tag) in front of len bytes already written.
int WriteHeader(unsigned char** p, unsigned char* start, size_t len, int tag) {
  int ret = 0;
  size_t n = 0;
  MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_len(p, start, len));
  MBEDTLS_ASN1_CHK_ADD(n, mbedtls_asn1_write_tag(p, start, static_cast<unsigned char>(tag)));
  return static_cast<int>(n);
}

constexpr int kSequence = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;

// Name ::= SEQUENCE OF SET { SEQUENCE { type, value } }, one attribute per RDN, value with its own
// string tag. The list is in reverse DER order, as mbedtls_x509_string_to_names builds it.
int WriteName(unsigned char** p, unsigned char* start, const mbedtls_asn1_named_data* head) {
  int ret = 0;
  size_t len = 0;
  for (const mbedtls_asn1_named_data* cur = head; cur != nullptr; cur = cur->next) {
    size_t atv = 0;
    MBEDTLS_ASN1_CHK_ADD(
        atv, mbedtls_asn1_write_tagged_string(
                 p, start, cur->val.tag, reinterpret_cast<const char*>(cur->val.p), cur->val.len));
    MBEDTLS_ASN1_CHK_ADD(
        atv,
        mbedtls_asn1_write_oid(p, start, reinterpret_cast<const char*>(cur->oid.p), cur->oid.len));
    MBEDTLS_ASN1_CHK_ADD(atv, WriteHeader(p, start, atv, kSequence));
    MBEDTLS_ASN1_CHK_ADD(atv,
                         WriteHeader(p, start, atv, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET));
    len += atv;
  }
  MBEDTLS_ASN1_CHK_ADD(len, WriteHeader(p, start, len, kSequence));
  return static_cast<int>(len);
}

// [3] EXPLICIT Extensions, from the writer's list: each value's first byte is the critical flag
// (mbedtls_x509_set_extension's layout), the rest the extnValue contents.
int WriteExtensions(unsigned char** p, unsigned char* start, const mbedtls_asn1_named_data* head) {
  int ret = 0;
  size_t len = 0;
  for (const mbedtls_asn1_named_data* cur = head; cur != nullptr; cur = cur->next) {
    if (cur->val.len < 1) return MBEDTLS_ERR_ASN1_INVALID_DATA;
    size_t ext = 0;
    MBEDTLS_ASN1_CHK_ADD(ext,
                         mbedtls_asn1_write_raw_buffer(p, start, cur->val.p + 1, cur->val.len - 1));
    MBEDTLS_ASN1_CHK_ADD(ext, WriteHeader(p, start, ext, MBEDTLS_ASN1_OCTET_STRING));
    if (cur->val.p[0] != 0) MBEDTLS_ASN1_CHK_ADD(ext, mbedtls_asn1_write_bool(p, start, 1));
    MBEDTLS_ASN1_CHK_ADD(
        ext,
        mbedtls_asn1_write_oid(p, start, reinterpret_cast<const char*>(cur->oid.p), cur->oid.len));
    MBEDTLS_ASN1_CHK_ADD(ext, WriteHeader(p, start, ext, kSequence));
    len += ext;
  }
  MBEDTLS_ASN1_CHK_ADD(len, WriteHeader(p, start, len, kSequence));
  MBEDTLS_ASN1_CHK_ADD(
      len,
      WriteHeader(p, start, len, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3));
  return static_cast<int>(len);
}

int WriteSpki(unsigned char** p, unsigned char* start, const mbedtls_pk_context& key) {
  // mbedtls_pk_write_pubkey_der writes at the end of [start, *p).
  int ret = mbedtls_pk_write_pubkey_der(&key, start, static_cast<size_t>(*p - start));
  if (ret > 0) *p -= ret;
  return ret;
}

struct TbsParts {
  const CertSpec& spec;
  const mbedtls_x509_crt& issuer;
  const mbedtls_pk_context& subject_key;
  const mbedtls_asn1_named_data* subject;
  const mbedtls_asn1_named_data* extensions;
  DerTime not_before, not_after;
};

// TBSCertificate ::= SEQUENCE { [0] version, serialNumber, signature, issuer, validity, subject,
// subjectPublicKeyInfo, [3] extensions }, written last field first.
int WriteTbs(unsigned char** p, unsigned char* start, const TbsParts& t) {
  int ret = 0;
  size_t len = 0;
  MBEDTLS_ASN1_CHK_ADD(len, WriteExtensions(p, start, t.extensions));
  MBEDTLS_ASN1_CHK_ADD(len, WriteSpki(p, start, t.subject_key));
  MBEDTLS_ASN1_CHK_ADD(len, WriteName(p, start, t.subject));
  size_t validity = 0;
  for (const DerTime* time : {&t.not_after, &t.not_before}) {
    MBEDTLS_ASN1_CHK_ADD(validity, mbedtls_asn1_write_tagged_string(
                                       p, start, time->tag, time->text.data(), time->text.size()));
  }
  MBEDTLS_ASN1_CHK_ADD(validity, WriteHeader(p, start, validity, kSequence));
  len += validity;
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start, t.issuer.subject_raw.p,
                                                          t.issuer.subject_raw.len));
  MBEDTLS_ASN1_CHK_ADD(
      len, mbedtls_asn1_write_raw_buffer(p, start, kEcdsaSha256AlgId, sizeof(kEcdsaSha256AlgId)));
  size_t serial = 0;  // CheckSerial made it positive and minimal: no 0x00 pad needed
  MBEDTLS_ASN1_CHK_ADD(
      serial, mbedtls_asn1_write_raw_buffer(p, start, t.spec.serial.data(), t.spec.serial.size()));
  MBEDTLS_ASN1_CHK_ADD(serial, WriteHeader(p, start, serial, MBEDTLS_ASN1_INTEGER));
  len += serial;
  size_t version = 0;
  MBEDTLS_ASN1_CHK_ADD(version, mbedtls_asn1_write_int(p, start, 2));  // v3
  MBEDTLS_ASN1_CHK_ADD(
      version,
      WriteHeader(p, start, version, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0));
  len += version;
  MBEDTLS_ASN1_CHK_ADD(len, WriteHeader(p, start, len, kSequence));
  return static_cast<int>(len);
}

// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }.
int WriteCertificate(unsigned char** p, unsigned char* start, std::span<const unsigned char> tbs,
                     std::span<const unsigned char> signature) {
  int ret = 0;
  size_t len = 0;
  static constexpr unsigned char kNoUnusedBits = 0;
  MBEDTLS_ASN1_CHK_ADD(len,
                       mbedtls_asn1_write_raw_buffer(p, start, signature.data(), signature.size()));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start, &kNoUnusedBits, 1));
  MBEDTLS_ASN1_CHK_ADD(len, WriteHeader(p, start, len, MBEDTLS_ASN1_BIT_STRING));
  MBEDTLS_ASN1_CHK_ADD(
      len, mbedtls_asn1_write_raw_buffer(p, start, kEcdsaSha256AlgId, sizeof(kEcdsaSha256AlgId)));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start, tbs.data(), tbs.size()));
  MBEDTLS_ASN1_CHK_ADD(len, WriteHeader(p, start, len, kSequence));
  return static_cast<int>(len);
}

}  // namespace

Result<void> CheckSerial(const base::Bytes& serial) {
  if (serial.empty() || serial.size() > 20) {
    return Fail(Code::kInvalidArgument, "serial must be 1..20 bytes");
  }
  if (serial[0] == 0 || serial[0] > 0x7f) {
    return Fail(Code::kInvalidArgument, "serial first byte must be 0x01..0x7F");
  }
  return {};
}

Result<base::Bytes> BuildTbs(const CertSpec& spec, const mbedtls_pk_context& subject_key,
                             const mbedtls_x509_crt& issuer_cert) {
  // Without an issuer SKI, SetExtensions would derive the AKI from the issuer key, which we do
  // not have here (and do not want: the AKI must match what chain builders see in the CA).
  if (issuer_cert.subject_key_id.len == 0) {
    return Fail(Code::kInvalidArgument, "issuer certificate has no subjectKeyIdentifier");
  }
  if (auto ok = CheckSerial(spec.serial); !ok) return std::unexpected(ok.error());
  if (spec.not_after < spec.not_before) {
    return Fail(Code::kInvalidArgument, "not_after is before not_before");
  }
  auto not_before = EncodeTime(spec.not_before);
  if (!not_before) return std::unexpected(not_before.error());
  auto not_after = EncodeTime(spec.not_after);
  if (!not_after) return std::unexpected(not_after.error());

  NameList subject;
  int ret = mbedtls_x509_string_to_names(&subject.head, spec.subject_dn.c_str());
  if (ret != 0) {
    return Fail(Code::kInvalidArgument, MbedtlsError("mbedtls_x509_string_to_names", ret));
  }
  // The writer is used only as a container for SetExtensions' encodings; it never holds an
  // issuer key and is never asked to write or sign.
  CrtWriter writer;
  mbedtls_x509write_crt_set_subject_key(writer.get(),
                                        const_cast<mbedtls_pk_context*>(&subject_key));
  if (auto ok = SetExtensions(writer.get(), spec, &issuer_cert); !ok) {
    return std::unexpected(ok.error());
  }

  const TbsParts parts{spec,        issuer_cert, subject_key, subject.head, writer->extensions,
                       *not_before, *not_after};
  base::Bytes buf(kMaxTbsBytes);
  unsigned char* p = buf.data() + buf.size();
  ret = WriteTbs(&p, buf.data(), parts);
  if (ret < 0) return Fail(Code::kCrypto, MbedtlsError("writing TBSCertificate", ret));
  return base::Bytes(p, buf.data() + buf.size());
}

Result<base::Bytes> WrapTbs(std::span<const unsigned char> tbs,
                            std::span<const unsigned char> signature) {
  if (tbs.size() > kMaxTbsBytes) {
    return Fail(Code::kInvalidArgument, "TBSCertificate is " + std::to_string(tbs.size()) +
                                            " bytes, limit " + std::to_string(kMaxTbsBytes));
  }
  base::Bytes buf(tbs.size() + sizeof(kEcdsaSha256AlgId) + signature.size() + 32);
  unsigned char* p = buf.data() + buf.size();
  int ret = WriteCertificate(&p, buf.data(), tbs, signature);
  if (ret < 0) return Fail(Code::kCrypto, MbedtlsError("writing Certificate", ret));
  return base::Bytes(p, buf.data() + buf.size());
}

Result<std::unique_ptr<CrtChain>> ParseTbs(std::span<const unsigned char> tbs) {
  auto wrapped = WrapTbs(tbs, {});
  if (!wrapped) return Fail(Code::kMalformed, wrapped.error().detail);
  auto chain = std::make_unique<CrtChain>();
  int ret = mbedtls_x509_crt_parse_der(chain->get(), wrapped->data(), wrapped->size());
  if (ret != 0) return Fail(Code::kMalformed, MbedtlsError("mbedtls_x509_crt_parse_der", ret));
  if (chain->get()->tbs.len != tbs.size()) {
    return Fail(Code::kMalformed, "bytes after the TBSCertificate");
  }
  return chain;
}

Result<std::unique_ptr<CrtChain>> CheckSigned(std::span<const unsigned char> cert_der,
                                              std::span<const unsigned char> tbs,
                                              const mbedtls_x509_crt& ca) {
  auto chain = std::make_unique<CrtChain>();
  int ret = mbedtls_x509_crt_parse_der(chain->get(), cert_der.data(), cert_der.size());
  if (ret != 0) {
    return Fail(Code::kCrypto, "signed certificate does not parse: " +
                                   MbedtlsError("mbedtls_x509_crt_parse_der", ret));
  }
  const mbedtls_x509_crt& crt = *chain->get();
  if (crt.tbs.len != tbs.size() || std::memcmp(crt.tbs.p, tbs.data(), tbs.size()) != 0) {
    return Fail(Code::kCrypto, "signed certificate's TBS differs from the one given to sign");
  }
  if (crt.sig_md != MBEDTLS_MD_SHA256 || crt.sig_pk != MBEDTLS_PK_ECDSA) {
    return Fail(Code::kCrypto, "signed certificate's algorithm is not ecdsa-with-SHA256");
  }
  unsigned char hash[32];
  ret = mbedtls_sha256(crt.tbs.p, crt.tbs.len, hash, /*is224=*/0);
  if (ret != 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_sha256", ret));
  // mbedtls_pk_verify takes a non-const context but only reads a public key.
  ret = mbedtls_pk_verify(const_cast<mbedtls_pk_context*>(&ca.pk), MBEDTLS_MD_SHA256, hash,
                          sizeof(hash), crt.sig.p, crt.sig.len);
  if (ret != 0) {
    return Fail(Code::kCrypto, "signature does not verify under the CA certificate: " +
                                   MbedtlsError("mbedtls_pk_verify", ret));
  }
  return chain;
}

}  // namespace ca
