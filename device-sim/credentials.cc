// credentials.cc — loading device credentials, checking issued certificates, storing them.
#include "device-sim/credentials.h"

#include <mbedtls/oid.h>

#include <string_view>

#include "ca/encoding.h"
#include "device-sim/file_util.h"
#include "device-sim/layout.h"
#include "device-sim/tls_names.h"

namespace devsim {
namespace {

constexpr size_t kMaxCredentialFile = 64 * 1024;

std::string_view AsText(const base::Bytes& der) {
  return {reinterpret_cast<const char*>(der.data()), der.size()};
}

}  // namespace

base::Result<Credentials> LoadCredentials(const std::string& fleet_dir,
                                          const std::string& device_id, EstOperation op,
                                          ca::Rng rng) {
  const std::string dir = DeviceDir(fleet_dir, device_id);
  const bool bootstrap = op != EstOperation::kReenroll;  // enroll, serverkeygen
  const std::string_view cert_name = bootstrap ? kBootstrapCert : kOperationalCert;
  const std::string_view key_name = bootstrap ? kBootstrapKey : kOperationalKey;
  for (std::string_view name : {cert_name, key_name}) {
    if (!FileExists(JoinPath(dir, name))) {
      return base::Fail(base::Code::kIo, "no " + std::string(name) + " in the device directory");
    }
  }
  auto cert_pem = ReadFile(JoinPath(dir, cert_name), kMaxCredentialFile);
  if (!cert_pem) return std::unexpected(cert_pem.error());
  auto cert = ca::ParseCertificates(*cert_pem);
  if (!cert) {
    return base::Fail(ca::ToBaseError(cert.error()).code,
                      std::string(cert_name) + ": " + cert.error().detail);
  }
  auto key_pem = ReadFile(JoinPath(dir, key_name), kMaxCredentialFile);
  if (!key_pem) return std::unexpected(key_pem.error());
  auto key = ca::PrivateKey::Parse(*key_pem, rng);
  if (!key)
    return base::Fail(ca::ToBaseError(key.error()).code,
                      std::string(key_name) + ": " + key.error().detail);
  return Credentials{std::move(*cert), std::move(*key)};
}

base::Result<base::Bytes> CheckIssued(const std::vector<base::Bytes>& certs,
                                      const base::Bytes& our_public_key,
                                      const std::string& device_id, mbedtls_x509_crt* trust) {
  const base::Bytes* leaf = nullptr;
  for (const base::Bytes& der : certs) {
    auto parsed = ca::ParseCertificates(AsText(der));
    if (!parsed) {
      return base::Fail(base::Code::kMalformed, "issued certificate: " + parsed.error().detail);
    }
    auto spki = ca::PublicKeyDer((*parsed)->get()->pk);
    if (spki && *spki == our_public_key) leaf = &der;
  }
  if (leaf == nullptr) {
    return base::Fail(base::Code::kInvalidArgument,
                      "issued certificate: none carries our public key");
  }
  // Leaf first, then the rest as candidate intermediates.
  ca::CrtChain chain;
  if (auto ok = ca::AppendCertificates(chain, AsText(*leaf)); !ok) {
    return std::unexpected(ca::ToBaseError(ok.error()));
  }
  for (const base::Bytes& der : certs) {
    if (&der == leaf) continue;
    if (auto ok = ca::AppendCertificates(chain, AsText(der)); !ok) {
      return std::unexpected(ca::ToBaseError(ok.error()));
    }
  }
  const std::string_view cn_oid(MBEDTLS_OID_AT_CN, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN));
  const auto cn = ca::DnAttribute(chain.get()->subject, cn_oid);
  if (!cn || *cn != device_id) {
    return base::Fail(base::Code::kInvalidArgument,
                      "issued certificate: subject CN is not the device id");
  }
  uint32_t flags = 0;
  if (mbedtls_x509_crt_verify(chain.get(), trust, nullptr, nullptr, &flags, nullptr, nullptr) !=
      0) {
    return base::Fail(base::Code::kInvalidArgument,
                      "issued certificate does not verify: " + VerifyFlagsText(flags));
  }
  return *leaf;
}

base::Result<void> StoreOperational(const std::string& fleet_dir, const std::string& device_id,
                                    const ca::PrivateKey& key, const base::Bytes& leaf_der) {
  const std::string dir = DeviceDir(fleet_dir, device_id);
  auto key_pem = key.ToPem();
  if (!key_pem) return std::unexpected(ca::ToBaseError(key_pem.error()));
  // Key before certificate: operational.crt is what reenroll looks for first.
  if (auto ok = ReplaceFile(JoinPath(dir, kOperationalKey), *key_pem, 0600); !ok) return ok;
  return ReplaceFile(JoinPath(dir, kOperationalCert), ca::DerToPem(leaf_der, "CERTIFICATE"), 0644);
}

}  // namespace devsim
