// server_key.cc — GenerateServerKey, its PKCS#8 encoding and base64 in place (see server_key.h).
#include "ca/server_key.h"

#include <mbedtls/asn1write.h>
#include <mbedtls/base64.h>
#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "ca/keys.h"

namespace ca {
namespace {

constexpr size_t kMaxSec1 = 256;    // a P-256 ECPrivateKey with parameters and public key: 121
constexpr size_t kMaxPkcs8 = 512;   // ... wrapped: 150

// Writes the PrivateKeyInfo around `sec1` backwards from `*p` (asn1write style); returns its size.
Result<size_t> WritePrivateKeyInfo(unsigned char** p, unsigned char* start,
                                   std::span<const unsigned char> sec1) {
  // Each asn1write call returns the bytes it wrote, or a negative error.
  int ret = mbedtls_asn1_write_octet_string(p, start, sec1.data(), sec1.size());
  if (ret < 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_asn1_write_octet_string", ret));
  size_t len = static_cast<size_t>(ret);
  const int curve = mbedtls_asn1_write_oid(p, start, MBEDTLS_OID_EC_GRP_SECP256R1,
                                           MBEDTLS_OID_SIZE(MBEDTLS_OID_EC_GRP_SECP256R1));
  if (curve < 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_asn1_write_oid", curve));
  // Its count includes the parameters (the curve OID) written just before.
  ret = mbedtls_asn1_write_algorithm_identifier(p, start, MBEDTLS_OID_EC_ALG_UNRESTRICTED,
                                                MBEDTLS_OID_SIZE(MBEDTLS_OID_EC_ALG_UNRESTRICTED),
                                                static_cast<size_t>(curve));
  if (ret < 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_asn1_write_algorithm_id", ret));
  len += static_cast<size_t>(ret);
  ret = mbedtls_asn1_write_int(p, start, 0);  // version v1
  if (ret < 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_asn1_write_int", ret));
  len += static_cast<size_t>(ret);
  ret = mbedtls_asn1_write_len(p, start, len);
  if (ret < 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_asn1_write_len", ret));
  len += static_cast<size_t>(ret);
  ret = mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
  if (ret < 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_asn1_write_tag", ret));
  return len + static_cast<size_t>(ret);
}

}  // namespace

Result<base::SecretBuffer> Pkcs8Der(const mbedtls_pk_context& pk) {
  if (!IsP256(pk) || !mbedtls_pk_can_do(&pk, MBEDTLS_PK_ECKEY)) {
    return Fail(Code::kInvalidArgument, "PKCS#8 export: not an EC P-256 key");
  }
  auto sec1 = base::SecretBuffer::Create(kMaxSec1);
  auto out = base::SecretBuffer::Create(kMaxPkcs8);
  if (!sec1 || !out) return Fail(Code::kCrypto, "PKCS#8 export: no memory for the key");
  // mbedtls_pk_write_key_der writes at the end of the buffer and returns the length.
  const int sec1_len = mbedtls_pk_write_key_der(const_cast<mbedtls_pk_context*>(&pk),
                                                sec1->tail(), sec1->spare());
  if (sec1_len <= 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_pk_write_key_der", sec1_len));
  std::span<const unsigned char> sec1_der(sec1->tail() + sec1->spare() - sec1_len,
                                          static_cast<size_t>(sec1_len));
  unsigned char* start = out->tail();
  unsigned char* p = start + out->spare();
  auto len = WritePrivateKeyInfo(&p, start, sec1_der);
  if (!len) return std::unexpected(len.error());
  std::memmove(start, p, *len);
  out->Commit(*len);
  mbedtls_platform_zeroize(out->tail(), out->spare());  // the copy memmove left behind
  return std::move(*out);
}

Result<ServerKey> GenerateServerKey(Rng rng) {
  auto key = PrivateKey::GenerateP256(rng);
  if (!key) return std::unexpected(key.error());
  auto pkcs8 = Pkcs8Der(*(*key)->pk());
  if (!pkcs8) return std::unexpected(pkcs8.error());
  auto pub = (*key)->PublicKeyDer();
  if (!pub) return std::unexpected(pub.error());
  key->reset();  // mbedtls_pk_free: the private number is zeroed and freed now
  return ServerKey{std::move(*pkcs8), std::move(*pub)};
}

size_t Base64LinesSize(size_t n) {
  const size_t lines = (n + 47) / 48;
  return (n + 2) / 3 * 4 + 2 * lines + 1;  // + the NUL mbedtls_base64_encode writes
}

Result<void> AppendBase64Lines(base::SecretBuffer& out, std::span<const unsigned char> data) {
  if (Base64LinesSize(data.size()) > out.spare()) {
    return Fail(Code::kInvalidArgument, "base64: buffer too small");
  }
  for (size_t at = 0; at < data.size(); at += 48) {
    const size_t n = std::min<size_t>(48, data.size() - at);
    size_t written = 0;
    const int ret = mbedtls_base64_encode(out.tail(), out.spare(), &written, data.data() + at, n);
    if (ret != 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_base64_encode", ret));
    out.Commit(written);
    out.Append("\r\n");
  }
  return {};
}

}  // namespace ca
