// keys.cc — P-256 key generation, private-key parsing and public-key serialisation.
#include "ca/keys.h"

#include <mbedtls/ecp.h>
#include <mbedtls/platform_util.h>

#include <string>

namespace ca {
namespace {

bool LooksLikePem(std::string_view text) {
  return text.find("-----BEGIN ") != std::string_view::npos;
}

bool IsEcType(mbedtls_pk_type_t type) {
  return type == MBEDTLS_PK_ECKEY || type == MBEDTLS_PK_ECKEY_DH || type == MBEDTLS_PK_ECDSA;
}

// Curve name as operators know it: NIST names for the NIST curves, mbedTLS's name otherwise.
std::string CurveName(mbedtls_ecp_group_id id) {
  switch (id) {
    case MBEDTLS_ECP_DP_SECP256R1:
      return "P-256";
    case MBEDTLS_ECP_DP_SECP384R1:
      return "P-384";
    case MBEDTLS_ECP_DP_SECP521R1:
      return "P-521";
    default:
      break;
  }
  const mbedtls_ecp_curve_info* info = mbedtls_ecp_curve_info_from_grp_id(id);
  return info != nullptr ? info->name : "unknown curve";
}

}  // namespace

Result<std::unique_ptr<PrivateKey>> PrivateKey::GenerateP256(Rng rng) {
  std::unique_ptr<PrivateKey> key(new PrivateKey());
  int ret = mbedtls_pk_setup(key->pk(), mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (ret != 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_pk_setup", ret));
  ret =
      mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key->pk()), rng.fill, rng.state);
  if (ret != 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_ecp_gen_key", ret));
  return key;
}

Result<std::unique_ptr<PrivateKey>> PrivateKey::Parse(std::string_view pem_or_der, Rng rng) {
  std::unique_ptr<PrivateKey> key(new PrivateKey());
  int ret;
  if (LooksLikePem(pem_or_der)) {
    // mbedTLS recognises PEM only when the length includes a terminating NUL.
    const std::string pem(pem_or_der);
    ret = mbedtls_pk_parse_key(key->pk(), reinterpret_cast<const unsigned char*>(pem.c_str()),
                               pem.size() + 1, nullptr, 0, rng.fill, rng.state);
  } else {
    ret = mbedtls_pk_parse_key(key->pk(), reinterpret_cast<const unsigned char*>(pem_or_der.data()),
                               pem_or_der.size(), nullptr, 0, rng.fill, rng.state);
  }
  if (ret != 0) return Fail(Code::kMalformed, MbedtlsError("mbedtls_pk_parse_key", ret));
  return key;
}

Result<std::string> PrivateKey::ToPem() const {
  base::Bytes buf(4096);
  int ret = mbedtls_pk_write_key_pem(pk(), buf.data(), buf.size());
  if (ret != 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_pk_write_key_pem", ret));
  // The PEM is NUL-terminated text at the start of buf; wipe the scratch copy of the key.
  std::string pem(reinterpret_cast<const char*>(buf.data()));
  mbedtls_platform_zeroize(buf.data(), buf.size());
  return pem;
}

Result<base::Bytes> PrivateKey::PublicKeyDer() const { return ca::PublicKeyDer(*pk()); }

Result<base::Bytes> PublicKeyDer(const mbedtls_pk_context& pk) {
  base::Bytes buf(2048);  // an RSA-4096 SubjectPublicKeyInfo is ~550 bytes
  int ret = mbedtls_pk_write_pubkey_der(&pk, buf.data(), buf.size());
  if (ret < 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_pk_write_pubkey_der", ret));
  // mbedTLS writes DER backwards, at the end of the buffer.
  return base::Bytes(buf.end() - ret, buf.end());
}

std::string DescribeKey(const mbedtls_pk_context& pk) {
  const mbedtls_pk_type_t type = mbedtls_pk_get_type(&pk);
  if (type == MBEDTLS_PK_RSA || type == MBEDTLS_PK_RSASSA_PSS) {
    return "RSA " + std::to_string(mbedtls_pk_get_bitlen(&pk));
  }
  if (IsEcType(type)) {
    return "EC " + CurveName(mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(pk)));
  }
  if (type == MBEDTLS_PK_NONE) return "no key";
  return std::string(mbedtls_pk_get_name(&pk));
}

bool IsP256(const mbedtls_pk_context& pk) {
  return IsEcType(mbedtls_pk_get_type(&pk)) &&
         mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(pk)) == MBEDTLS_ECP_DP_SECP256R1;
}

}  // namespace ca
