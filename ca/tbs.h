// tbs.h — (private to ca/) the to-be-signed part of a certificate, assembled without any private
// key, and the Certificate structure around a TBS and its signature.
#pragma once

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <memory>
#include <span>

#include "base/types.h"
#include "ca/cert.h"
#include "ca/error.h"
#include "ca/signer.h"

namespace ca {

// Upper bound on a TBSCertificate we build, lint or sign; a device certificate's is ~400 bytes.
inline constexpr size_t kMaxTbsBytes = 8192;

// The DER TBSCertificate for spec, issued by issuer_cert: v3, signature algorithm
// ecdsa-with-SHA256, issuer = issuer_cert's subject bytes verbatim, AKI = issuer_cert's SKI, the
// extensions of SignCertificate (signer_extensions.h). Takes no issuer key, by construction: the
// only key is subject_key, of which the SPKI and SKI use the public half. kInvalidArgument for a
// bad spec or an issuer without subjectKeyIdentifier, kCrypto if encoding fails.
Result<base::Bytes> BuildTbs(const CertSpec& spec, const mbedtls_pk_context& subject_key,
                             const mbedtls_x509_crt& issuer_cert);

// Certificate ::= SEQUENCE { tbs, AlgorithmIdentifier ecdsa-with-SHA256, BIT STRING signature }.
// tbs is copied as is (not checked). kInvalidArgument if tbs exceeds kMaxTbsBytes.
Result<base::Bytes> WrapTbs(std::span<const unsigned char> tbs,
                            std::span<const unsigned char> signature);

// Parses tbs by wrapping it with an empty signature, so mbedTLS's certificate parser reads every
// field. The result's signature is empty: use it for reading fields, never for verifying.
// kMalformed if it does not parse (including a signature algorithm other than ecdsa-with-SHA256).
Result<std::unique_ptr<CrtChain>> ParseTbs(std::span<const unsigned char> tbs);

// Checks a certificate just signed over tbs: cert_der parses, its TBS is byte-identical to tbs,
// its signature algorithm is ecdsa-with-SHA256 and the signature verifies under ca's public key.
// kCrypto otherwise (a signing fault or an encoder bug: the certificate must not be used).
// Returns the parsed certificate, so the caller describes it without parsing it again.
Result<std::unique_ptr<CrtChain>> CheckSigned(std::span<const unsigned char> cert_der,
                                              std::span<const unsigned char> tbs,
                                              const mbedtls_x509_crt& ca);

// Serial rules for certificates we write: 1..20 bytes, first byte 0x01..0x7F (positive, minimal).
Result<void> CheckSerial(const base::Bytes& serial);

}  // namespace ca
