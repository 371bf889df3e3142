// signer.cc — CertSpec -> signed X.509 v3 DER via mbedtls_x509write_crt: names, serial, validity
// and signing here; the extensions in signer_extensions.cc.
#define MBEDTLS_ALLOW_PRIVATE_ACCESS  // x509write_cert.issuer: to copy the issuer DN verbatim
#include "ca/signer.h"

#include <mbedtls/platform.h>
#include <mbedtls/x509_crt.h>

#include <cstdio>
#include <cstring>

#include "base/scoped.h"
#include "ca/civil_time.h"
#include "ca/signer_extensions.h"
#include "ca/tbs.h"

namespace ca {
namespace {

using CrtWriter =
    base::Scoped<mbedtls_x509write_cert, mbedtls_x509write_crt_init, mbedtls_x509write_crt_free>;

// "YYYYMMDDhhmmss" as mbedtls_x509write_crt_set_validity wants; mbedTLS then picks UTCTime for
// 1950..2049 and GeneralizedTime otherwise, as RFC 5280 requires.
Result<std::string> X509Time(base::UnixTime t) { return CertificateTimeDigits(t); }

// The issuer DN copied attribute by attribute, keeping each value's string type, so the issued
// certificate's issuer is byte-identical to the CA's subject (what path building compares).
// Round-tripping through text would lose string types and merge repeated attributes.
Result<void> CopyIssuerName(const mbedtls_x509_name& subject, mbedtls_asn1_named_data** head) {
  // mbedTLS writes the list head last, so prepending in DER order reproduces DER order.
  for (const mbedtls_x509_name* cur = &subject; cur != nullptr; cur = cur->next) {
    if (cur->oid.p == nullptr) continue;
    auto* node =
        static_cast<mbedtls_asn1_named_data*>(mbedtls_calloc(1, sizeof(mbedtls_asn1_named_data)));
    if (node == nullptr) return Fail(Code::kCrypto, "out of memory copying issuer name");
    node->next = *head;
    *head = node;  // owned by the writer from here on, even if the copies below fail
    node->oid.p = static_cast<unsigned char*>(mbedtls_calloc(1, cur->oid.len));
    node->val.p = static_cast<unsigned char*>(mbedtls_calloc(1, cur->val.len + 1));
    if (node->oid.p == nullptr || node->val.p == nullptr) {
      return Fail(Code::kCrypto, "out of memory copying issuer name");
    }
    std::memcpy(node->oid.p, cur->oid.p, cur->oid.len);
    node->oid.len = cur->oid.len;
    node->oid.tag = MBEDTLS_ASN1_OID;
    if (cur->val.len > 0) std::memcpy(node->val.p, cur->val.p, cur->val.len);
    node->val.len = cur->val.len;
    node->val.tag = cur->val.tag;
  }
  return {};
}

Result<void> SetNames(mbedtls_x509write_cert* w, const CertSpec& spec,
                      const mbedtls_x509_crt* issuer_cert) {
  int ret = mbedtls_x509write_crt_set_subject_name(w, spec.subject_dn.c_str());
  if (ret != 0) {
    return Fail(Code::kInvalidArgument,
                MbedtlsError("mbedtls_x509write_crt_set_subject_name", ret));
  }
  if (issuer_cert == nullptr) {
    ret = mbedtls_x509write_crt_set_issuer_name(w, spec.subject_dn.c_str());
    if (ret != 0) {
      return Fail(Code::kInvalidArgument,
                  MbedtlsError("mbedtls_x509write_crt_set_issuer_name", ret));
    }
    return {};
  }
  return CopyIssuerName(issuer_cert->subject, &w->issuer);
}

Result<void> SetSerialAndValidity(mbedtls_x509write_cert* w, const CertSpec& spec) {
  if (auto ok = CheckSerial(spec.serial); !ok) return ok;
  if (spec.not_after < spec.not_before) {
    return Fail(Code::kInvalidArgument, "not_after is before not_before");
  }
  auto not_before = X509Time(spec.not_before);
  if (!not_before) return std::unexpected(not_before.error());
  auto not_after = X509Time(spec.not_after);
  if (!not_after) return std::unexpected(not_after.error());
  base::Bytes serial = spec.serial;  // set_serial_raw takes a non-const pointer
  int ret = mbedtls_x509write_crt_set_serial_raw(w, serial.data(), serial.size());
  if (ret != 0)
    return Fail(Code::kInvalidArgument, MbedtlsError("mbedtls_x509write_crt_set_serial_raw", ret));
  ret = mbedtls_x509write_crt_set_validity(w, not_before->c_str(), not_after->c_str());
  if (ret != 0)
    return Fail(Code::kInvalidArgument, MbedtlsError("mbedtls_x509write_crt_set_validity", ret));
  return {};
}

}  // namespace

std::string EscapeDnValue(std::string_view value) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    const bool edge_space = c == ' ' && (i == 0 || i + 1 == value.size());
    if (c == '\\' || c < 0x20 || c > 0x7e) {
      // Hex form for backslash: mbedTLS 3.6's DN parser treats any ',' right after a '\' as
      // escaped, so "a\\,O=x" (an escaped backslash ending the value) would swallow the next
      // attribute. "\5C" never puts a backslash before a separator.
      char hex[4];
      std::snprintf(hex, sizeof(hex), "\\%02X", c);
      out += hex;
    } else if (edge_space || std::strchr(",=+<>#;\"", c) != nullptr) {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

Result<base::Bytes> SignCertificate(const CertSpec& spec, const mbedtls_pk_context& subject_key,
                                    const mbedtls_x509_crt* issuer_cert,
                                    const mbedtls_pk_context& issuer_key, Rng rng) {
  CrtWriter writer;
  mbedtls_x509write_cert* w = writer.get();
  mbedtls_x509write_crt_set_version(w, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(w, MBEDTLS_MD_SHA256);
  // The writer only reads the keys; signing may cache EC tables in issuer_key, which is why
  // keys are documented as one-per-thread.
  mbedtls_x509write_crt_set_subject_key(w, const_cast<mbedtls_pk_context*>(&subject_key));
  mbedtls_x509write_crt_set_issuer_key(w, const_cast<mbedtls_pk_context*>(&issuer_key));
  if (auto ok = SetSerialAndValidity(w, spec); !ok) return std::unexpected(ok.error());
  if (auto ok = SetNames(w, spec, issuer_cert); !ok) return std::unexpected(ok.error());
  if (auto ok = SetExtensions(w, spec, issuer_cert); !ok) return std::unexpected(ok.error());

  base::Bytes buf(16384);
  int ret = mbedtls_x509write_crt_der(w, buf.data(), buf.size(), rng.fill, rng.state);
  if (ret < 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_x509write_crt_der", ret));
  return base::Bytes(buf.end() - ret, buf.end());  // written backwards, at the end of buf
}

Result<base::Bytes> RandomSerial(Rng rng, size_t len) {
  if (len < 1 || len > 20) return Fail(Code::kInvalidArgument, "serial length must be 1..20");
  base::Bytes serial(len);
  // Clearing the top bit keeps the INTEGER positive without a 0x00 pad; a first byte of 0 would
  // make the encoding non-minimal (or the value shorter), so draw again. Each draw fails with
  // probability 1/128; 64 failures in a row means the RNG is broken.
  for (int attempt = 0; attempt < 64; ++attempt) {
    int ret = rng.fill(rng.state, serial.data(), serial.size());
    if (ret != 0) return Fail(Code::kCrypto, MbedtlsError("rng", ret));
    serial[0] &= 0x7f;
    if (serial[0] != 0) return serial;
  }
  return Fail(Code::kCrypto, "rng keeps returning zero bytes");
}

}  // namespace ca
