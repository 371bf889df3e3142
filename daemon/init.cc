// init.cc — state directory creation (see init.h).
#include "daemon/init.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "ca/ca_key.h"
#include "ca/cert.h"
#include "ca/encoding.h"
#include "ca/issuer.h"
#include "ca/keys.h"
#include "ca/rollover.h"
#include "ca/signer.h"
#include "daemon/ca_key_source.h"
#include "daemon/config.h"
#include "daemon/files.h"
#include "db/sqlite_store.h"

namespace provisiond {
namespace {

bool IsIpLiteral(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

base::Result<void> MakeStateDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return base::Fail(base::Code::kIo, "mkdir " + dir + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return base::Fail(base::Code::kIo, dir + " is not a directory");
  }
  if (::chmod(dir.c_str(), 0700) != 0) {
    return base::Fail(base::Code::kIo, "chmod 0700 " + dir + ": " + std::strerror(errno));
  }
  return {};
}

// A new self-signed P-256 root for key: CN = --ca-name, the profile of every root provisiond makes
// (ca/rollover.h: pathLen 0, keyCertSign and cRLSign), so a rollover's new root matches it.
base::Result<base::Bytes> SelfSignedCa(const InitOptions& o, ca::CaKey& key, ca::Rng rng,
                                       base::UnixTime now) {
  auto der = ca::SelfSignedRoot("CN=" + ca::EscapeDnValue(o.ca_name), now - 300,
                                now + static_cast<base::UnixTime>(o.ca_days) * 86400, key, rng);
  if (!der) return std::unexpected(ca::ToBaseError(der.error()));
  return *der;
}

// The CA init made: its certificate and the key that signs for it (and its token, if any).
struct MadeCa {
  std::string cert_pem;
  std::unique_ptr<ca::CaKey> key;
  std::unique_ptr<CaKeySource> token;
};

// The CA with its key in the token --ca-key-uri names: the URI's key pair, generated there when
// absent; with --ca-cert, the imported CA's key must already be that pair. Records the URI (no
// PIN) in ca.key.uri; no private key is written anywhere.
base::Result<MadeCa> MakeTokenCa(const InitOptions& o, const StatePaths& paths, ca::Rng rng,
                                 base::UnixTime now) {
  if (!o.ca_key_path.empty()) {
    return base::Fail(base::Code::kInvalidArgument, "--ca-key and --ca-key-uri: give one");
  }
  auto source = CaKeySource::OpenToken(o.ca_key);
  if (!source) return std::unexpected(source.error());
  ca::token::Token& token = *(*source)->token();
  auto has = token.HasKey();
  if (!has) return base::Fail(base::Code::kInvalidArgument, "token: " + has.error().detail);
  if (!*has && !o.ca_cert_path.empty()) {
    return base::Fail(base::Code::kInvalidArgument,
                      "--ca-cert: the token holds no key named by --ca-key-uri");
  }
  if (!*has) {
    if (auto made = token.GenerateKey(); !made) {
      return base::Fail(base::Code::kInvalidArgument, "token: " + made.error().detail);
    }
  }
  auto key = (*source)->NewKey(rng);
  if (!key) return std::unexpected(key.error());
  std::string cert_pem;
  if (!o.ca_cert_path.empty()) {
    auto cert = ReadFile(o.ca_cert_path);
    if (!cert) return std::unexpected(cert.error());
    if (auto issuer = ca::Issuer::Load(*cert, std::move(*key)); !issuer) {
      return std::unexpected(ca::ToBaseError(issuer.error()));
    }
    cert_pem = std::move(*cert);
    key = (*source)->NewKey(rng);
    if (!key) return std::unexpected(key.error());
  } else {
    auto der = SelfSignedCa(o, **key, rng, now);
    if (!der) return std::unexpected(der.error());
    cert_pem = ca::DerToPem(*der, "CERTIFICATE");
  }
  if (auto r = WriteNewFile(paths.ca_key_uri, (*source)->uri() + "\n", 0644); !r) {
    return std::unexpected(r.error());
  }
  if (auto r = WriteNewFile(paths.ca_cert, cert_pem, 0644); !r) return std::unexpected(r.error());
  return MadeCa{std::move(cert_pem), std::move(*key), std::move(*source)};
}

// Writes ca.crt and ca.key: either the imported pair (checked: parses, matches, is a CA) or a new
// self-signed P-256 root.
base::Result<MadeCa> MakeCa(const InitOptions& o, const StatePaths& paths, ca::Rng rng,
                            base::UnixTime now) {
  if (!o.ca_key.uri.empty()) return MakeTokenCa(o, paths, rng, now);
  std::string cert_pem, key_pem;
  if (!o.ca_cert_path.empty()) {
    auto cert = ReadFile(o.ca_cert_path);
    if (!cert) return std::unexpected(cert.error());
    auto key = ReadFile(o.ca_key_path);
    if (!key) return std::unexpected(key.error());
    if (auto issuer = ca::Issuer::Load(*cert, *key, rng); !issuer) {
      return std::unexpected(ca::ToBaseError(issuer.error()));
    }
    cert_pem = std::move(*cert);
    key_pem = std::move(*key);
  } else {
    auto generated = ca::PrivateKey::GenerateP256(rng);
    if (!generated) return std::unexpected(ca::ToBaseError(generated.error()));
    auto pem = (*generated)->ToPem();
    if (!pem) return std::unexpected(ca::ToBaseError(pem.error()));
    key_pem = std::move(*pem);
    auto key = ca::MakeFileCaKey(std::move(*generated));
    if (!key) return std::unexpected(ca::ToBaseError(key.error()));
    auto der = SelfSignedCa(o, **key, rng, now);
    if (!der) return std::unexpected(der.error());
    cert_pem = ca::DerToPem(*der, "CERTIFICATE");
  }
  auto key = ca::LoadFileCaKey(key_pem, rng);
  if (!key) return std::unexpected(ca::ToBaseError(key.error()));
  if (auto r = WriteNewFile(paths.ca_key, key_pem, 0600); !r) return std::unexpected(r.error());
  if (auto r = WriteNewFile(paths.ca_cert, cert_pem, 0644); !r) return std::unexpected(r.error());
  return MadeCa{std::move(cert_pem), std::move(*key), nullptr};
}

base::Result<void> MakeServerCert(const InitOptions& o, const StatePaths& paths,
                                  const MadeCa& made, ca::Rng rng, base::UnixTime now) {
  auto ca_cert = ca::ParseCertificates(made.cert_pem);
  if (!ca_cert) return std::unexpected(ca::ToBaseError(ca_cert.error()));
  auto key = ca::PrivateKey::GenerateP256(rng);
  if (!key) return std::unexpected(ca::ToBaseError(key.error()));
  auto serial = ca::RandomSerial(rng);
  if (!serial) return std::unexpected(ca::ToBaseError(serial.error()));

  ca::CertSpec spec{.subject_dn = "CN=" + ca::EscapeDnValue(o.server_names.front()),
                    .serial = *serial,
                    .not_before = now - 300,
                    .not_after = std::min(now + static_cast<base::UnixTime>(o.server_days) * 86400,
                                          ca::ToUnixTime((*ca_cert)->get()->valid_to)),
                    .key_usage = MBEDTLS_X509_KU_DIGITAL_SIGNATURE,
                    .ext_key_usage = {ca::Eku::kServerAuth}};
  for (const auto& name : o.server_names) {
    (IsIpLiteral(name) ? spec.ip_addresses : spec.dns_names).push_back(name);
  }
  auto der = ca::SignCertificateWith(spec, (*key)->pk(), (*ca_cert)->get(), *made.key, rng);
  if (!der) return std::unexpected(ca::ToBaseError(der.error()));
  auto pem = (*key)->ToPem();
  if (!pem) return std::unexpected(ca::ToBaseError(pem.error()));
  if (auto r = WriteNewFile(paths.server_key, *pem, 0600); !r) return r;
  return WriteNewFile(paths.server_cert, ca::DerToPem(*der, "CERTIFICATE"), 0644);
}

}  // namespace

base::Result<std::vector<std::string>> InitStateDir(const InitOptions& o) {
  if (o.server_names.empty()) {
    return base::Fail(base::Code::kInvalidArgument, "at least one --server-name is needed");
  }
  if (o.ca_key.uri.empty() && o.ca_cert_path.empty() != o.ca_key_path.empty()) {
    return base::Fail(base::Code::kInvalidArgument, "--ca-cert and --ca-key go together");
  }
  StatePaths paths(o.state_dir);
  std::error_code ec;
  if (std::filesystem::exists(paths.ca_cert, ec) || std::filesystem::exists(paths.ca_key, ec) ||
      std::filesystem::exists(paths.ca_key_uri, ec)) {
    return base::Fail(base::Code::kInvalidArgument,
                      o.state_dir + " already holds a CA; refusing to overwrite it");
  }
  if (auto r = MakeStateDir(o.state_dir); !r) return std::unexpected(r.error());
  auto drbg = ca::Drbg::FromSystemEntropy();
  if (!drbg) return std::unexpected(ca::ToBaseError(drbg.error()));
  const auto now = static_cast<base::UnixTime>(std::time(nullptr));
  auto made = MakeCa(o, paths, (*drbg)->rng(), now);
  if (!made) return std::unexpected(made.error());
  if (auto r = MakeServerCert(o, paths, *made, (*drbg)->rng(), now); !r) {
    return std::unexpected(r.error());
  }
  auto store = db::SqliteStore::Open(paths.database);
  if (!store) return base::Fail(base::Code::kIo, "database: " + store.error().detail);

  std::vector<std::string> lines;
  lines.push_back(std::string(o.ca_cert_path.empty() ? "created" : "imported") + " CA " +
                  paths.ca_cert +
                  (made->token ? " (key in the token: " + made->token->uri() + ", recorded in " +
                                     paths.ca_key_uri + ")"
                               : " (key " + paths.ca_key + ", mode 0600)"));
  std::string names;
  for (const auto& n : o.server_names) names += (names.empty() ? "" : ",") + n;
  lines.push_back("created server certificate " + paths.server_cert + " for " + names);
  lines.push_back("created database " + paths.database);
  return lines;
}

}  // namespace provisiond
