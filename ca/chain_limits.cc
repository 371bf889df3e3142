// chain_limits.cc — screening of a client's certificate chain before verification (see
// chain_limits.h).
#include "ca/chain_limits.h"

#include <mbedtls/bignum.h>
#include <mbedtls/rsa.h>

#include <string>

#include "base/scoped.h"
#include "ca/cert.h"
#include "ca/keys.h"

namespace ca {
namespace {

using Mpi = base::Scoped<mbedtls_mpi, mbedtls_mpi_init, mbedtls_mpi_free>;

std::string Position(size_t index) {
  return index == 0 ? std::string("leaf") : "certificate " + std::to_string(index);
}

bool IsEc(mbedtls_pk_type_t type) {
  return type == MBEDTLS_PK_ECKEY || type == MBEDTLS_PK_ECKEY_DH || type == MBEDTLS_PK_ECDSA;
}

// RSA of a sane size with a small public exponent: the cost of a signature check grows with the
// modulus size and linearly with the exponent's bit length (e ~ 2^8190 made one check ~0.8 s).
Result<void> ScreenRsa(const mbedtls_pk_context& pk, size_t index) {
  const size_t bits = mbedtls_pk_get_bitlen(&pk);
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    return Fail(Code::kUnsupportedKey, Position(index) + " has an RSA key of " +
                                           std::to_string(bits) + " bits (allowed " +
                                           std::to_string(kMinRsaBits) + ".." +
                                           std::to_string(kMaxRsaBits) + ")");
  }
  Mpi e;
  if (mbedtls_rsa_export(mbedtls_pk_rsa(pk), nullptr, nullptr, nullptr, nullptr, e.get()) != 0) {
    return Fail(Code::kUnsupportedKey, Position(index) + " has an unreadable RSA key");
  }
  Mpi max;
  if (mbedtls_mpi_lset(max.get(), kMaxRsaExponent) != 0) {
    return Fail(Code::kCrypto, "mbedtls_mpi_lset failed");
  }
  if (mbedtls_mpi_cmp_int(e.get(), 3) < 0 || mbedtls_mpi_cmp_mpi(e.get(), max.get()) > 0) {
    return Fail(Code::kUnsupportedKey,
                Position(index) + " has an RSA public exponent of " +
                    std::to_string(mbedtls_mpi_bitlen(e.get())) + " bits (allowed 3..65537)");
  }
  return {};
}

}  // namespace

Result<void> ScreenChainKey(const mbedtls_pk_context& pk, size_t index) {
  const mbedtls_pk_type_t type = mbedtls_pk_get_type(&pk);
  if (IsEc(type)) {
    const mbedtls_ecp_group_id curve = mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(pk));
    if (curve == MBEDTLS_ECP_DP_SECP256R1) return {};
    if (curve == MBEDTLS_ECP_DP_SECP384R1) return {};
  } else if (type == MBEDTLS_PK_RSA && index > 0) {
    return ScreenRsa(pk, index);
  }
  return Fail(Code::kUnsupportedKey,
              Position(index) + " has a key of type " + DescribeKey(pk) +
                  (index == 0 ? " (a device key must be EC P-256/P-384)"
                              : " (a CA key must be EC P-256/P-384 or RSA 2048..4096)"));
}

Result<void> ScreenChainShape(size_t count, size_t cert_bytes, size_t total_bytes,
                              const ChainLimits& limits) {
  if (count > limits.max_certs) {
    return Fail(Code::kMalformed, "chain of more than " + std::to_string(limits.max_certs) +
                                      " certificates");
  }
  if (cert_bytes > limits.max_cert_bytes) {
    return Fail(Code::kMalformed, "certificate " + std::to_string(count - 1) + " is " +
                                      std::to_string(cert_bytes) + " bytes (at most " +
                                      std::to_string(limits.max_cert_bytes) + ")");
  }
  if (total_bytes > limits.max_total_bytes) {
    return Fail(Code::kMalformed, "chain of more than " +
                                      std::to_string(limits.max_total_bytes) + " bytes");
  }
  return {};
}

Result<void> ScreenChain(const mbedtls_x509_crt& chain, const ChainLimits& limits) {
  size_t count = 0, total = 0;
  for (const mbedtls_x509_crt* c = &chain; c != nullptr && c->raw.len > 0; c = c->next) {
    ++count;
    total += c->raw.len;
    if (auto r = ScreenChainShape(count, c->raw.len, total, limits); !r) return r;
  }
  size_t index = 0;
  for (const mbedtls_x509_crt* c = &chain; c != nullptr && c->raw.len > 0; c = c->next) {
    if (auto r = ScreenChainKey(c->pk, index++); !r) return r;
  }
  return {};
}

Result<void> ScreenDerChain(std::span<const std::span<const unsigned char>> ders,
                            const ChainLimits& limits) {
  size_t count = 0, total = 0;
  for (const auto& der : ders) {
    ++count;
    total += der.size();
    if (auto r = ScreenChainShape(count, der.size(), total, limits); !r) return r;
  }
  CrtChain chain;
  for (const auto& der : ders) {
    int ret = mbedtls_x509_crt_parse_der(chain.get(), der.data(), der.size());
    if (ret != 0) return Fail(Code::kMalformed, MbedtlsError("mbedtls_x509_crt_parse_der", ret));
  }
  if (ders.empty()) return {};
  return ScreenChain(*chain.get(), limits);
}

}  // namespace ca
