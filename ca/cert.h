// cert.h — parsed X.509 certificates and what provisiond reads from them.
#pragma once

#include <mbedtls/x509_crt.h>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/scoped.h"
#include "base/types.h"
#include "ca/error.h"

namespace ca {

using CrtChain = base::Scoped<mbedtls_x509_crt, mbedtls_x509_crt_init, mbedtls_x509_crt_free>;

// Parses one or more certificates: PEM (any number of CERTIFICATE blocks) or a single DER.
// kMalformed if nothing parses or any block fails. The chain is in file order.
Result<std::unique_ptr<CrtChain>> ParseCertificates(std::string_view pem_or_der);

// Appends to an existing chain (for trust stores built from several files).
Result<void> AppendCertificates(CrtChain& chain, std::string_view pem_or_der);

// DER of one certificate (crt.raw).
base::Bytes CertDer(const mbedtls_x509_crt& crt);
// SHA-256 of the DER, lowercase hex.
std::string CertFingerprint(const mbedtls_x509_crt& crt);
// The canonical text of a serial number, used everywhere provisiond stores, looks up or prints
// one: lowercase hex of the integer's minimal unsigned big-endian bytes, two digits per byte,
// i.e. without the DER sign byte 00 that a serial whose first byte is >= 0x80 carries
// (openssl prints "8F00", DER holds 00 8F 00: both are "8f00"); "00" for zero. A negative
// serial (invalid in X.509, yet parsed) is its two's-complement bytes as encoded.
// The certificate's serial in that form.
std::string CertSerialHex(const mbedtls_x509_crt& crt);
// Operator or stored text to the canonical form: accepts upper or lower case, an optional 0x,
// colons between bytes ("8F:00"), an odd number of digits ("f00" = "0f00") and leading zeros.
// kInvalidArgument if empty, not hex, or longer than kMaxSerialHexDigits digits.
inline constexpr size_t kMaxSerialHexDigits = 128;
Result<std::string> NormalizeSerialHex(std::string_view text);
// RFC 4514-ish string as mbedTLS prints it, e.g. "CN=dev-1, O=Acme".
std::string DnString(const mbedtls_x509_name& name);
base::UnixTime ToUnixTime(const mbedtls_x509_time& t);

// Whether a and b carry the same subject (raw DER bytes) and the same public key (compared as
// re-encoded SubjectPublicKeyInfo, so a point in another encoding is still the same key). A CA's
// identity for chain building: a re-issued CA certificate (new serial, validity or extensions)
// with both is the same CA, whatever its bytes.
bool SameSubject(const mbedtls_x509_crt& a, const mbedtls_x509_crt& b);
bool SameKey(const mbedtls_x509_crt& a, const mbedtls_x509_crt& b);

// The first certificate of chain (following next) with ca's subject or ca's key, described for
// one error line ("'CN=x' has the CA's subject and key"), or nullopt if there is none.
std::optional<std::string> FindCaLookalike(const mbedtls_x509_crt& chain,
                                           const mbedtls_x509_crt& ca);

// The subjectAltName entries provisiond writes, as "URI:x", "DNS:y" or "IP:..." joined by ", ".
std::string SanString(const mbedtls_x509_crt& crt);

// Value of the first attribute with this OID in name (e.g. MBEDTLS_OID_AT_CN), if any.
std::optional<std::string> DnAttribute(const mbedtls_x509_name& name, std::string_view oid);

// Where a device's identity is read from, in both the bootstrap certificate and the CSR.
enum class IdentitySource { kCommonName, kSerialNumber };

// The device identity carried by cert's subject. kPolicy if the attribute is missing or the value
// is not an acceptable device id (see IsValidDeviceId).
Result<std::string> DeviceIdOf(const mbedtls_x509_crt& cert, IdentitySource source);

// Device ids are 1..64 bytes of printable ASCII (0x20..0x7E). Anything else (control characters,
// non-ASCII, empty, too long) is refused: the id goes into subjects, SANs, logs and SQL rows.
bool IsValidDeviceId(std::string_view id);

}  // namespace ca
