// signer_extensions.cc — encodes the v3 extensions of a CertSpec onto an mbedtls_x509write_cert.
// Extensions whose criticality mbedTLS gets wrong for us, or whose value must come from the issuer
// certificate (AKI), are DER-encoded here and added with mbedtls_x509write_crt_set_extension.
#include "ca/signer_extensions.h"

#include <arpa/inet.h>  // inet_pton only: text -> address bytes, no sockets
#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>

#include <list>

#include "ca/cdp.h"

namespace ca {
namespace {

Result<void> AddExtension(mbedtls_x509write_cert* w, const char* oid, size_t oid_len, bool critical,
                          const unsigned char* value, size_t len) {
  int ret = mbedtls_x509write_crt_set_extension(w, oid, oid_len, critical ? 1 : 0, value, len);
  if (ret != 0)
    return Fail(Code::kCrypto, MbedtlsError("mbedtls_x509write_crt_set_extension", ret));
  return {};
}

// BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }.
// Written here because mbedtls_x509write_crt_set_basic_constraints marks the extension critical
// only when cA is TRUE; our profile wants it critical for end entities too.
Result<void> SetBasicConstraints(mbedtls_x509write_cert* w, bool is_ca, int max_path_len) {
  unsigned char buf[16] = {};
  unsigned char* p = buf + sizeof(buf);
  int len = 0;
  if (is_ca && max_path_len >= 0) len += mbedtls_asn1_write_int(&p, buf, max_path_len);
  if (is_ca) len += mbedtls_asn1_write_bool(&p, buf, 1);
  len += mbedtls_asn1_write_len(&p, buf, static_cast<size_t>(len));
  len += mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
  if (p < buf || len < 2) return Fail(Code::kCrypto, "basicConstraints encoding failed");
  return AddExtension(w, MBEDTLS_OID_BASIC_CONSTRAINTS,
                      MBEDTLS_OID_SIZE(MBEDTLS_OID_BASIC_CONSTRAINTS), true, p,
                      static_cast<size_t>(len));
}

// ExtKeyUsageSyntax ::= SEQUENCE OF KeyPurposeId, written non-critical (RFC 5280 leaves it to
// the issuer; the CA/Browser Forum profile and common practice use non-critical).
// mbedtls_x509write_crt_set_ext_key_usage always marks it critical, so it is encoded here.
Result<void> SetExtKeyUsage(mbedtls_x509write_cert* w, const std::vector<Eku>& ekus) {
  if (ekus.empty()) return {};
  if (ekus.size() > 8) return Fail(Code::kInvalidArgument, "too many extended key usages");
  unsigned char buf[128] = {};
  unsigned char* p = buf + sizeof(buf);
  int len = 0;
  for (size_t i = ekus.size(); i-- > 0;) {  // backwards writer: last purpose first
    const bool server = ekus[i] == Eku::kServerAuth;
    len +=
        mbedtls_asn1_write_oid(&p, buf, server ? MBEDTLS_OID_SERVER_AUTH : MBEDTLS_OID_CLIENT_AUTH,
                               server ? MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)
                                      : MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH));
  }
  len += mbedtls_asn1_write_len(&p, buf, static_cast<size_t>(len));
  len += mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
  return AddExtension(w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                      MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), false, p,
                      static_cast<size_t>(len));
}

Result<base::Bytes> ParseIp(const std::string& text) {
  unsigned char addr[16];
  if (inet_pton(AF_INET, text.c_str(), addr) == 1) return base::Bytes(addr, addr + 4);
  if (inet_pton(AF_INET6, text.c_str(), addr) == 1) return base::Bytes(addr, addr + 16);
  return Fail(Code::kInvalidArgument, "not an IPv4 or IPv6 address: " + text);
}

Result<void> SetSubjectAltName(mbedtls_x509write_cert* w, const CertSpec& spec) {
  // Nodes point into spec's strings and into ip_bytes; both outlive the call that copies them.
  std::list<mbedtls_x509_san_list> nodes;
  std::list<base::Bytes> ip_bytes;
  auto add = [&](int type, const unsigned char* p, size_t len) {
    mbedtls_x509_san_list& node = nodes.emplace_back();
    node.node.type = type;
    node.node.san.unstructured_name.p = const_cast<unsigned char*>(p);
    node.node.san.unstructured_name.len = len;
    node.next = nullptr;
  };
  auto bytes = [](const std::string& s) {
    return reinterpret_cast<const unsigned char*>(s.data());
  };
  for (const auto& dns : spec.dns_names) add(MBEDTLS_X509_SAN_DNS_NAME, bytes(dns), dns.size());
  for (const auto& ip : spec.ip_addresses) {
    auto addr = ParseIp(ip);
    if (!addr) return std::unexpected(addr.error());
    const base::Bytes& stored = ip_bytes.emplace_back(std::move(*addr));
    add(MBEDTLS_X509_SAN_IP_ADDRESS, stored.data(), stored.size());
  }
  for (const auto& uri : spec.uris)
    add(MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER, bytes(uri), uri.size());
  if (nodes.empty()) return {};
  // mbedTLS writes the list backwards (head last), so link it in reverse to keep spec order.
  for (auto it = std::next(nodes.begin()); it != nodes.end(); ++it) it->next = &*std::prev(it);
  int ret = mbedtls_x509write_crt_set_subject_alternative_name(w, &nodes.back());
  if (ret != 0) {
    return Fail(Code::kCrypto,
                MbedtlsError("mbedtls_x509write_crt_set_subject_alternative_name", ret));
  }
  return {};
}

// AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }, carrying the
// issuer's own SKI when it has one: chain builders match AKI against that value, and an
// external CA may have derived its SKI differently from mbedTLS's SHA-1 of the key.
Result<void> SetAuthorityKeyId(mbedtls_x509write_cert* w, const mbedtls_x509_crt* issuer_cert) {
  if (issuer_cert == nullptr || issuer_cert->subject_key_id.len == 0) {
    int ret = mbedtls_x509write_crt_set_authority_key_identifier(w);
    if (ret != 0) {
      return Fail(Code::kCrypto,
                  MbedtlsError("mbedtls_x509write_crt_set_authority_key_identifier", ret));
    }
    return {};
  }
  const mbedtls_x509_buf& ski = issuer_cert->subject_key_id;
  if (ski.len > 64) return Fail(Code::kInvalidArgument, "issuer subjectKeyIdentifier too long");
  unsigned char buf[80] = {};
  unsigned char* p = buf + sizeof(buf);
  int len = mbedtls_asn1_write_raw_buffer(&p, buf, ski.p, ski.len);
  len += mbedtls_asn1_write_len(&p, buf, static_cast<size_t>(len));
  len += mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0);
  len += mbedtls_asn1_write_len(&p, buf, static_cast<size_t>(len));
  len += mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
  return AddExtension(w, MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER,
                      MBEDTLS_OID_SIZE(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER), false, p,
                      static_cast<size_t>(len));
}

Result<void> SetCrlDistributionPoints(mbedtls_x509write_cert* w, const CertSpec& spec) {
  if (spec.crl_urls.empty()) return {};
  auto value = EncodeCrlDistributionPoints(spec.crl_urls);
  if (!value) return std::unexpected(value.error());
  return AddExtension(w, MBEDTLS_OID_CRL_DISTRIBUTION_POINTS,
                      MBEDTLS_OID_SIZE(MBEDTLS_OID_CRL_DISTRIBUTION_POINTS), false, value->data(),
                      value->size());
}

}  // namespace

Result<void> SetExtensions(mbedtls_x509write_cert* w, const CertSpec& spec,
                           const mbedtls_x509_crt* issuer_cert) {
  if (auto ok = SetBasicConstraints(w, spec.is_ca, spec.max_path_len); !ok) return ok;
  if (spec.key_usage != 0) {
    // mbedTLS writes keyUsage critical (checked by the tests).
    int ret = mbedtls_x509write_crt_set_key_usage(w, spec.key_usage);
    if (ret != 0) {
      return Fail(Code::kInvalidArgument, MbedtlsError("mbedtls_x509write_crt_set_key_usage", ret));
    }
  }
  if (auto ok = SetExtKeyUsage(w, spec.ext_key_usage); !ok) return ok;
  if (auto ok = SetSubjectAltName(w, spec); !ok) return ok;
  if (auto ok = SetCrlDistributionPoints(w, spec); !ok) return ok;
  int ret = mbedtls_x509write_crt_set_subject_key_identifier(w);
  if (ret != 0) {
    return Fail(Code::kCrypto,
                MbedtlsError("mbedtls_x509write_crt_set_subject_key_identifier", ret));
  }
  return SetAuthorityKeyId(w, issuer_cert);
}

}  // namespace ca
