// cert.cc — parsing certificates and reading the fields provisiond cares about (DN, serial,
// validity, the device identity).
#include "ca/cert.h"

#include <mbedtls/asn1.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509.h>

#include <cstring>

#include "ca/civil_time.h"
#include "ca/encoding.h"
#include "ca/keys.h"

namespace ca {

Result<std::unique_ptr<CrtChain>> ParseCertificates(std::string_view pem_or_der) {
  auto chain = std::make_unique<CrtChain>();
  if (auto appended = AppendCertificates(*chain, pem_or_der); !appended) {
    return std::unexpected(appended.error());
  }
  return chain;
}

Result<void> AppendCertificates(CrtChain& chain, std::string_view pem_or_der) {
  if (pem_or_der.find("-----BEGIN ") != std::string_view::npos) {
    // PEM is recognised only when the length counts a terminating NUL.
    const std::string pem(pem_or_der);
    int ret = mbedtls_x509_crt_parse(
        chain.get(), reinterpret_cast<const unsigned char*>(pem.c_str()), pem.size() + 1);
    // ret > 0 is the number of blocks that failed: a trust store with a bad block is refused
    // whole rather than silently trusting less (or more) than the operator meant.
    if (ret < 0) return Fail(Code::kMalformed, MbedtlsError("mbedtls_x509_crt_parse", ret));
    if (ret > 0) {
      return Fail(Code::kMalformed,
                  std::to_string(ret) + " PEM certificate block(s) failed to parse");
    }
    return {};
  }
  int ret = mbedtls_x509_crt_parse_der(
      chain.get(), reinterpret_cast<const unsigned char*>(pem_or_der.data()), pem_or_der.size());
  if (ret != 0) return Fail(Code::kMalformed, MbedtlsError("mbedtls_x509_crt_parse_der", ret));
  return {};
}

base::Bytes CertDer(const mbedtls_x509_crt& crt) {
  return base::Bytes(crt.raw.p, crt.raw.p + crt.raw.len);
}

std::string CertFingerprint(const mbedtls_x509_crt& crt) {
  return Sha256Hex(std::span(crt.raw.p, crt.raw.len));
}

std::string CertSerialHex(const mbedtls_x509_crt& crt) {
  std::span<const unsigned char> bytes(crt.serial.p, crt.serial.len);
  while (bytes.size() > 1 && bytes.front() == 0) bytes = bytes.subspan(1);
  if (bytes.empty()) return "00";
  return HexLower(bytes);
}

Result<std::string> NormalizeSerialHex(std::string_view text) {
  if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
  std::string digits;
  for (char c : text) {
    if (c == ':') continue;
    const char lower = (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
    if (!((lower >= '0' && lower <= '9') || (lower >= 'a' && lower <= 'f'))) {
      return Fail(Code::kInvalidArgument, "serial is not hexadecimal");
    }
    digits += lower;
    if (digits.size() > kMaxSerialHexDigits) {
      return Fail(Code::kInvalidArgument,
                  "serial has more than " + std::to_string(kMaxSerialHexDigits) + " hex digits");
    }
  }
  if (digits.empty()) return Fail(Code::kInvalidArgument, "serial is empty");
  if (digits.size() % 2 != 0) digits.insert(digits.begin(), '0');
  size_t zero_bytes = 0;
  while (zero_bytes + 2 < digits.size() && digits.compare(zero_bytes, 2, "00") == 0) {
    zero_bytes += 2;
  }
  return digits.substr(zero_bytes);
}

std::string SanString(const mbedtls_x509_crt& crt) {
  std::string out;
  for (const mbedtls_x509_sequence* cur = &crt.subject_alt_names; cur && cur->buf.p;
       cur = cur->next) {
    const std::string value(reinterpret_cast<const char*>(cur->buf.p), cur->buf.len);
    std::string item;
    switch (cur->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK) {
      case MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER: item = "URI:" + value; break;
      case MBEDTLS_X509_SAN_DNS_NAME: item = "DNS:" + value; break;
      case MBEDTLS_X509_SAN_IP_ADDRESS: item = "IP:" + HexLower(std::span<const unsigned char>(cur->buf.p, cur->buf.len)); break;
      default: continue;
    }
    out += (out.empty() ? "" : ", ") + item;
  }
  return out;
}

std::string DnString(const mbedtls_x509_name& name) {
  // A DN is bounded by its certificate; grow until mbedTLS stops reporting "buffer too small".
  for (size_t size = 512; size <= 65536; size *= 4) {
    std::string buf(size, '\0');
    int ret = mbedtls_x509_dn_gets(buf.data(), buf.size(), &name);
    if (ret >= 0) {
      buf.resize(static_cast<size_t>(ret));
      return buf;
    }
    if (ret != MBEDTLS_ERR_X509_BUFFER_TOO_SMALL) return {};
  }
  return {};
}

base::UnixTime ToUnixTime(const mbedtls_x509_time& t) {
  return FromCivil(CivilTime{t.year, static_cast<unsigned>(t.mon), static_cast<unsigned>(t.day),
                             static_cast<unsigned>(t.hour), static_cast<unsigned>(t.min),
                             static_cast<unsigned>(t.sec)});
}

std::optional<std::string> DnAttribute(const mbedtls_x509_name& name, std::string_view oid) {
  for (const mbedtls_x509_name* cur = &name; cur != nullptr; cur = cur->next) {
    if (cur->oid.p == nullptr || cur->oid.len != oid.size()) continue;
    if (std::memcmp(cur->oid.p, oid.data(), oid.size()) != 0) continue;
    return std::string(reinterpret_cast<const char*>(cur->val.p), cur->val.len);
  }
  return std::nullopt;
}

namespace {

// Only string types whose bytes are the characters: a BMPString "dev-1" would otherwise reach
// IsValidDeviceId as UTF-16 and be refused with a confusing message.
bool IsAsciiStringTag(const mbedtls_x509_name& name, std::string_view oid) {
  for (const mbedtls_x509_name* cur = &name; cur != nullptr; cur = cur->next) {
    if (cur->oid.p == nullptr || cur->oid.len != oid.size() ||
        std::memcmp(cur->oid.p, oid.data(), oid.size()) != 0) {
      continue;
    }
    const int tag = cur->val.tag;
    return tag == MBEDTLS_ASN1_UTF8_STRING || tag == MBEDTLS_ASN1_PRINTABLE_STRING ||
           tag == MBEDTLS_ASN1_IA5_STRING;
  }
  return false;
}

}  // namespace

Result<std::string> DeviceIdOf(const mbedtls_x509_crt& cert, IdentitySource source) {
  const bool by_cn = source == IdentitySource::kCommonName;
  const std::string_view oid =
      by_cn ? std::string_view(MBEDTLS_OID_AT_CN, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN))
            : std::string_view(MBEDTLS_OID_AT_SERIAL_NUMBER,
                               MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_SERIAL_NUMBER));
  const char* what = by_cn ? "commonName" : "serialNumber";
  std::optional<std::string> value = DnAttribute(cert.subject, oid);
  if (!value) return Fail(Code::kPolicy, std::string("subject has no ") + what);
  if (!IsAsciiStringTag(cert.subject, oid)) {
    return Fail(Code::kPolicy, std::string("subject ") + what + " has an unsupported string type");
  }
  if (!IsValidDeviceId(*value)) {
    return Fail(Code::kPolicy, std::string("subject ") + what + " is not a valid device id");
  }
  return *value;
}

bool IsValidDeviceId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (unsigned char c : id) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

bool SameSubject(const mbedtls_x509_crt& a, const mbedtls_x509_crt& b) {
  return a.subject_raw.len == b.subject_raw.len &&
         std::memcmp(a.subject_raw.p, b.subject_raw.p, a.subject_raw.len) == 0;
}

bool SameKey(const mbedtls_x509_crt& a, const mbedtls_x509_crt& b) {
  auto ka = PublicKeyDer(a.pk);
  auto kb = PublicKeyDer(b.pk);
  return ka && kb && *ka == *kb;
}

std::optional<std::string> FindCaLookalike(const mbedtls_x509_crt& chain,
                                           const mbedtls_x509_crt& ca) {
  for (const mbedtls_x509_crt* c = &chain; c != nullptr && c->raw.len > 0; c = c->next) {
    const bool subject = SameSubject(*c, ca);
    const bool key = SameKey(*c, ca);
    if (subject || key) {
      return "'" + DnString(c->subject) + "' has the CA's " +
             (subject && key ? "subject and key" : subject ? "subject" : "key");
    }
  }
  return std::nullopt;
}

}  // namespace ca
