// server_reissue.cc — the server certificate under a new CA generation (see server_reissue.h).
#include "ca/server_reissue.h"

#include <arpa/inet.h>  // inet_ntop only: address bytes -> text, no sockets

#include <algorithm>
#include <string>

#include "ca/cert.h"
#include "ca/rollover.h"
#include "ca/signer.h"

namespace ca {
namespace {

// The SAN IP octets (4 or 16) as text, the form CertSpec takes.
Result<std::string> IpText(const mbedtls_x509_buf& buf) {
  char text[INET6_ADDRSTRLEN] = {};
  const int family = buf.len == 4 ? AF_INET : buf.len == 16 ? AF_INET6 : 0;
  if (family == 0 || inet_ntop(family, buf.p, text, sizeof text) == nullptr) {
    return Fail(Code::kInvalidArgument, "server certificate: an IP subjectAltName of bad length");
  }
  return std::string(text);
}

}  // namespace

Result<base::Bytes> ReissueServerCert(const mbedtls_x509_crt& server, const mbedtls_x509_crt& new_ca,
                                      CaKey& new_key, base::UnixTime now, Rng rng) {
  auto subject = SubjectDnText(server.subject);
  if (!subject) return std::unexpected(subject.error());
  auto serial = RandomSerial(rng);
  if (!serial) return std::unexpected(serial.error());
  const base::UnixTime lifetime = ToUnixTime(server.valid_to) - ToUnixTime(server.valid_from);
  CertSpec spec{.subject_dn = *subject,
                .serial = std::move(*serial),
                .not_before = now - 300,
                .not_after = std::min(now - 300 + lifetime, ToUnixTime(new_ca.valid_to)),
                .key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE,
                .ext_key_usage = {Eku::kServerAuth}};
  for (const mbedtls_x509_sequence* cur = &server.subject_alt_names; cur && cur->buf.p;
       cur = cur->next) {
    switch (cur->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK) {
      case MBEDTLS_X509_SAN_DNS_NAME:
        spec.dns_names.emplace_back(reinterpret_cast<const char*>(cur->buf.p), cur->buf.len);
        break;
      case MBEDTLS_X509_SAN_IP_ADDRESS: {
        auto ip = IpText(cur->buf);
        if (!ip) return std::unexpected(ip.error());
        spec.ip_addresses.push_back(std::move(*ip));
        break;
      }
      default:
        return Fail(Code::kInvalidArgument,
                    "server certificate: a subjectAltName other than DNS or IP");
    }
  }
  return SignCertificateWith(spec, &server.pk, &new_ca, new_key, rng);
}

}  // namespace ca
