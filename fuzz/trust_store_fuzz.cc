// trust_store_fuzz.cc — loading trust-store files: PEM bundles or a single DER certificate,
// then everything provisiond reads from a certificate for logs and identity.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ca/cert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto chain = ca::ParseCertificates(text);
  if (!chain) return 0;
  for (const mbedtls_x509_crt* c = (*chain)->get(); c != nullptr && c->raw.p != nullptr;
       c = c->next) {
    (void)ca::DnString(c->subject);
    (void)ca::CertSerialHex(*c);
    (void)ca::CertFingerprint(*c);
    (void)ca::SanString(*c);
    (void)ca::DeviceIdOf(*c, ca::IdentitySource::kCommonName);
    (void)ca::DeviceIdOf(*c, ca::IdentitySource::kSerialNumber);
  }
  return 0;
}
