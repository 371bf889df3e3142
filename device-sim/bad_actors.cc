// bad_actors.cc — rogue CA, minted client certificates and broken CSRs (see bad_actors.h).
#include "device-sim/bad_actors.h"

#include <mbedtls/x509.h>

#include "ca/encoding.h"
#include "ca/signer.h"

namespace devsim {
namespace {

constexpr base::UnixTime kBackdate = 300;
constexpr base::UnixTime kYear = 365 * 86400;

std::string_view AsText(const base::Bytes& der) {
  return {reinterpret_cast<const char*>(der.data()), der.size()};
}

}  // namespace

ca::Result<PemIdentity> MakeRogueCa(base::UnixTime now, ca::Rng rng) {
  auto key = ca::PrivateKey::GenerateP256(rng);
  if (!key) return std::unexpected(key.error());
  auto serial = ca::RandomSerial(rng);
  if (!serial) return std::unexpected(serial.error());
  ca::CertSpec spec;
  spec.subject_dn = "CN=device-sim rogue CA";
  spec.serial = std::move(*serial);
  spec.not_before = now - kBackdate;
  spec.not_after = now + kYear;
  spec.is_ca = true;
  spec.max_path_len = 0;
  spec.key_usage = MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN;
  auto der = ca::SignCertificate(spec, *(*key)->pk(), nullptr, *(*key)->pk(), rng);
  if (!der) return std::unexpected(der.error());
  auto key_pem = (*key)->ToPem();
  if (!key_pem) return std::unexpected(key_pem.error());
  return PemIdentity{ca::DerToPem(*der, "CERTIFICATE"), std::move(*key_pem)};
}

ca::Result<SigningCa> ParseSigningCa(const PemIdentity& pem, ca::Rng rng) {
  auto cert = ca::ParseCertificates(pem.cert_pem);
  if (!cert) return std::unexpected(cert.error());
  auto key = ca::PrivateKey::Parse(pem.key_pem, rng);
  if (!key) return std::unexpected(key.error());
  return SigningCa{std::move(*cert), std::move(*key)};
}

ca::Result<std::unique_ptr<ca::CrtChain>> MintClientCert(std::string_view device_id,
                                                         BootstrapKind kind,
                                                         const mbedtls_pk_context& subject_key,
                                                         const SigningCa& issuer,
                                                         base::UnixTime now, ca::Rng rng) {
  ca::CertSpec spec = BootstrapSpec(device_id, kind, now);
  auto serial = ca::RandomSerial(rng);
  if (!serial) return std::unexpected(serial.error());
  spec.serial = std::move(*serial);
  auto der = ca::SignCertificate(spec, subject_key, issuer.cert->get(), *issuer.key->pk(), rng);
  if (!der) return std::unexpected(der.error());
  return ca::ParseCertificates(AsText(*der));
}

base::Bytes BreakCsrSignature(base::Bytes csr_der) {
  if (!csr_der.empty()) csr_der.back() ^= 0x01;
  return csr_der;
}

}  // namespace devsim
