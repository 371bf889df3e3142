// factory.cc — factory CA creation/loading and bootstrap certificate minting for RunFactory.
#include "device-sim/factory.h"

#include <mbedtls/pk.h>
#include <mbedtls/x509.h>

#include <cstdio>
#include <memory>

#include "ca/cert.h"
#include "ca/encoding.h"
#include "ca/keys.h"
#include "ca/signer.h"
#include "device-sim/file_util.h"
#include "device-sim/layout.h"

namespace devsim {
namespace {

constexpr base::UnixTime kDay = 86400;
constexpr base::UnixTime kYear = 365 * kDay;
constexpr base::UnixTime kBackdate = 300;  // tolerate small clock differences with the daemon
constexpr size_t kMaxPemFile = 64 * 1024;

struct FactoryCa {
  std::unique_ptr<ca::CrtChain> cert;
  std::unique_ptr<ca::PrivateKey> key;
  bool created = false;  // by this run
};

base::Result<FactoryCa> LoadCa(const std::string& cert_path, const std::string& key_path,
                               ca::Rng rng) {
  auto cert_pem = ReadFile(cert_path, kMaxPemFile);
  if (!cert_pem) return std::unexpected(cert_pem.error());
  auto key_pem = ReadFile(key_path, kMaxPemFile);
  if (!key_pem) return std::unexpected(key_pem.error());
  auto cert = ca::ParseCertificates(*cert_pem);
  if (!cert)
    return base::Fail(ca::ToBaseError(cert.error()).code, cert_path + ": " + cert.error().detail);
  auto key = ca::PrivateKey::Parse(*key_pem, rng);
  if (!key)
    return base::Fail(ca::ToBaseError(key.error()).code, key_path + ": " + key.error().detail);
  if (mbedtls_pk_check_pair(&(*cert)->get()->pk, (*key)->pk(), rng.fill, rng.state) != 0) {
    return base::Fail(base::Code::kInvalidArgument, key_path + " does not match " + cert_path);
  }
  return FactoryCa{std::move(*cert), std::move(*key)};
}

base::Result<FactoryCa> CreateCa(const FactoryOptions& options, const std::string& cert_path,
                                 const std::string& key_path, base::UnixTime now, ca::Rng rng) {
  auto key = ca::PrivateKey::GenerateP256(rng);
  if (!key) return std::unexpected(ca::ToBaseError(key.error()));
  auto serial = ca::RandomSerial(rng);
  if (!serial) return std::unexpected(ca::ToBaseError(serial.error()));
  ca::CertSpec spec;
  spec.subject_dn = "CN=" + ca::EscapeDnValue(options.ca_name);
  spec.serial = std::move(*serial);
  spec.not_before = now - kBackdate;
  spec.not_after = now + 20 * kYear;
  spec.is_ca = true;
  spec.max_path_len = 0;  // it signs device certificates only
  spec.key_usage = MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN;
  auto der = ca::SignCertificate(spec, *(*key)->pk(), nullptr, *(*key)->pk(), rng);
  if (!der) return std::unexpected(ca::ToBaseError(der.error()));
  auto key_pem = (*key)->ToPem();
  if (!key_pem) return std::unexpected(ca::ToBaseError(key_pem.error()));
  // Key first: a crash in between leaves a key without a certificate, which LoadOrCreateCa refuses
  // loudly instead of silently minting a second CA.
  if (auto w = WriteNewFile(key_path, *key_pem, 0600); !w) return std::unexpected(w.error());
  if (auto w = WriteNewFile(cert_path, ca::DerToPem(*der, "CERTIFICATE"), 0644); !w) {
    return std::unexpected(w.error());
  }
  return LoadCa(cert_path, key_path, rng);  // round-trips what was written
}

base::Result<FactoryCa> LoadOrCreateCa(const FactoryOptions& options, base::UnixTime now,
                                       ca::Rng rng) {
  const std::string cert_path = JoinPath(options.out_dir, kFactoryCaCert);
  const std::string key_path = JoinPath(options.out_dir, kFactoryCaKey);
  const bool have_cert = FileExists(cert_path);
  const bool have_key = FileExists(key_path);
  if (!have_cert && !have_key) {
    auto created = CreateCa(options, cert_path, key_path, now, rng);
    if (created) created->created = true;
    return created;
  }
  if (have_cert != have_key) {
    return base::Fail(base::Code::kIo, "only one of " + cert_path + " and " + key_path +
                                           " exists; remove it or restore the other");
  }
  return LoadCa(cert_path, key_path, rng);
}

// Writes one device directory. Ok(false) if it already existed (left untouched).
base::Result<bool> MintDevice(const FactoryOptions& options, const FactoryCa& factory,
                              const std::string& id, base::UnixTime now, ca::Rng rng) {
  const std::string dir = DeviceDir(options.out_dir, id);
  auto made = MakePrivateDir(dir);
  if (!made) return std::unexpected(made.error());
  const std::string cert_path = JoinPath(dir, kBootstrapCert);
  if (!*made) {
    if (FileExists(cert_path)) return false;
    return base::Fail(base::Code::kIo, dir + " exists without " + std::string(kBootstrapCert) +
                                           " (interrupted run?); remove it and run again");
  }
  auto key = ca::PrivateKey::GenerateP256(rng);
  if (!key) return std::unexpected(ca::ToBaseError(key.error()));
  ca::CertSpec spec = BootstrapSpec(id, options.kind, now);
  auto serial = ca::RandomSerial(rng);
  if (!serial) return std::unexpected(ca::ToBaseError(serial.error()));
  spec.serial = std::move(*serial);
  auto der = ca::SignCertificate(spec, *(*key)->pk(), factory.cert->get(), *factory.key->pk(), rng);
  if (!der) return std::unexpected(ca::ToBaseError(der.error()));
  auto key_pem = (*key)->ToPem();
  if (!key_pem) return std::unexpected(ca::ToBaseError(key_pem.error()));
  // The certificate is written last: its presence marks a complete device.
  if (auto w = WriteNewFile(JoinPath(dir, kBootstrapKey), *key_pem, 0600); !w) {
    return std::unexpected(w.error());
  }
  if (auto w = WriteNewFile(cert_path, ca::DerToPem(*der, "CERTIFICATE"), 0644); !w) {
    return std::unexpected(w.error());
  }
  return true;
}

}  // namespace

ca::CertSpec BootstrapSpec(std::string_view id, BootstrapKind kind, base::UnixTime now) {
  ca::CertSpec spec;
  spec.subject_dn = "CN=" + ca::EscapeDnValue(id);
  spec.not_before = now - kBackdate;
  spec.not_after = now + 10 * kYear;
  spec.key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
  spec.ext_key_usage = {ca::Eku::kClientAuth};
  switch (kind) {
    case BootstrapKind::kGood:
      break;
    case BootstrapKind::kExpired:
      spec.not_before = now - 2 * kYear;
      spec.not_after = now - kDay;
      break;
    case BootstrapKind::kNotYetValid:
      spec.not_before = now + kYear;
      spec.not_after = now + 11 * kYear;
      break;
    case BootstrapKind::kNoClientEku:
      spec.ext_key_usage = {ca::Eku::kServerAuth};
      break;
    case BootstrapKind::kCaLeaf:
      spec.is_ca = true;
      break;
  }
  return spec;
}

std::optional<BootstrapKind> ParseBootstrapKind(std::string_view name) {
  if (name == "good") return BootstrapKind::kGood;
  if (name == "expired") return BootstrapKind::kExpired;
  if (name == "not-yet-valid") return BootstrapKind::kNotYetValid;
  if (name == "no-client-eku") return BootstrapKind::kNoClientEku;
  if (name == "ca-leaf") return BootstrapKind::kCaLeaf;
  return std::nullopt;
}

std::string DeviceId(std::string_view prefix, int number) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%05d", number);
  return std::string(prefix) + digits;
}

base::Result<FactoryReport> RunFactory(const FactoryOptions& options, base::UnixTime now,
                                       ca::Rng rng) {
  if (options.out_dir.empty() || options.count < 0 || options.start < 0) {
    return base::Fail(base::Code::kInvalidArgument, "need --out, --count >= 0 and --start >= 0");
  }
  for (int n : {options.start, options.start + options.count - 1}) {
    if (options.count > 0 && !IsUsableDeviceId(DeviceId(options.prefix, n))) {
      return base::Fail(base::Code::kInvalidArgument,
                        "unusable device id '" + DeviceId(options.prefix, n) + "'");
    }
  }
  FactoryReport report;
  for (const std::string& dir : {options.out_dir, DevicesDir(options.out_dir)}) {
    if (auto made = MakePrivateDir(dir); !made) return std::unexpected(made.error());
  }
  auto factory = LoadOrCreateCa(options, now, rng);
  if (!factory) return std::unexpected(factory.error());
  report.ca_created = factory->created;
  for (int i = 0; i < options.count; ++i) {
    auto minted =
        MintDevice(options, *factory, DeviceId(options.prefix, options.start + i), now, rng);
    if (!minted) return std::unexpected(minted.error());
    ++(*minted ? report.created : report.existing);
  }
  return report;
}

}  // namespace devsim
