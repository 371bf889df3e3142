// check_config.cc — configuration and file checks for `provisiond check-config` (see
// check_config.h).
#include "daemon/check_config.h"

#include <mbedtls/pk.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include "ca/cert.h"
#include "ca/keys.h"
#include "ca/rng.h"
#include "daemon/ca_generations.h"
#include "daemon/ca_key_source.h"
#include "daemon/files.h"
#include "daemon/net.h"
#include "daemon/store_open.h"
#include "db/store_url.h"

namespace provisiond {
namespace {

std::string Octal(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

// The uid that must own the CA key, or nullopt if ownership is not checked.
std::optional<uid_t> ExpectedOwner(const std::string& service_user,
                                   std::vector<std::string>* problems) {
  if (service_user.empty()) {
    uid_t me = ::geteuid();
    return me == 0 ? std::nullopt : std::optional<uid_t>(me);
  }
  passwd pw{};
  passwd* found = nullptr;
  char buf[4096];
  if (::getpwnam_r(service_user.c_str(), &pw, buf, sizeof buf, &found) != 0 || !found) {
    problems->push_back("service user '" + service_user + "': no such user");
    return std::nullopt;
  }
  return found->pw_uid;
}

std::string UserName(uid_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found) return found->pw_name;
  return "uid " + std::to_string(uid);
}

// A key file: no group/other access, and (optionally) the expected owner.
void CheckKeyFile(const std::string& path, std::optional<uid_t> owner,
                  std::vector<std::string>* problems) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;  // reported when it is read
  if ((st.st_mode & 077) != 0) {
    problems->push_back(path + ": mode " + Octal(st.st_mode) +
                        ", want 0600 (no group/other access)");
  }
  if (owner && st.st_uid != *owner) {
    problems->push_back(path + ": owned by " + UserName(st.st_uid) + ", want " + UserName(*owner) +
                        " (the service user must own the CA key)");
  }
}

// Reads a certificate and its key; reports unreadable, unparsable or mismatched files.
void CheckPair(const std::string& cert_path, const std::string& key_path, const char* what,
               ca::Rng rng, std::vector<std::string>* problems) {
  std::unique_ptr<ca::CrtChain> cert;
  std::unique_ptr<ca::PrivateKey> key;
  if (auto pem = ReadFile(cert_path); !pem) {
    problems->push_back(pem.error().detail);
  } else if (auto c = ca::ParseCertificates(*pem); !c) {
    problems->push_back(cert_path + ": " + c.error().detail);
  } else {
    cert = std::move(*c);
  }
  if (auto pem = ReadFile(key_path); !pem) {
    problems->push_back(pem.error().detail);
  } else if (auto k = ca::PrivateKey::Parse(*pem, rng); !k) {
    problems->push_back(key_path + ": " + k.error().detail);
  } else {
    key = std::move(*k);
  }
  if (!cert || !key) return;
  auto cert_pub = ca::PublicKeyDer(cert->get()->pk);
  auto key_pub = key->PublicKeyDer();
  if (!cert_pub || !key_pub || *cert_pub != *key_pub) {
    problems->push_back(key_path + ": does not match " + cert_path + " (the " + what +
                        " key and certificate must be a pair)");
  }
}

// A CA certificate, or nullptr if it cannot be read (CheckPair reports why).
std::unique_ptr<ca::CrtChain> ReadCert(const std::string& path) {
  auto pem = ReadFile(path);
  if (!pem) return nullptr;
  auto cert = ca::ParseCertificates(*pem);
  return cert ? std::move(*cert) : nullptr;
}

// The issuing CA certificate (generation 1's ca.crt), or nullptr if it cannot be read.
std::unique_ptr<ca::CrtChain> ReadIssuingCa(const std::string& state_dir) {
  if (state_dir.empty()) return nullptr;
  return ReadCert(StatePaths(state_dir).ca_cert);
}

// How a generation's key is named in a problem: "CA key" (generation 1, as before any
// rollover), "CA generation N key".
std::string KeyLabel(int64_t gen) {
  return gen <= 1 ? "CA key" : "CA generation " + std::to_string(gen) + " key";
}

// A CA key in a token: the module loads, the token and key are found with the PIN from its
// checked pin-source, the key is its generation's ca.crt's, and it signs a random digest that
// verifies. Every generation's key shares `tokens` (one C_Initialize per module and process).
void CheckTokenKey(const std::string& state_dir, int64_t gen, const CaKeyOptions& options,
                   ca::Rng rng, std::shared_ptr<ca::token::TokenSet>& tokens,
                   std::vector<std::string>* problems) {
  const StatePaths paths(GenerationDir(state_dir, gen));
  const std::string label = KeyLabel(gen);
  auto source = gen <= 1 ? CaKeySource::Open(paths, options, rng, tokens)
                         : OpenGenerationKey(state_dir, gen, options, rng, tokens);
  if (!source) {
    problems->push_back(label + ": " + source.error().detail);
    return;
  }
  if (!tokens) tokens = (*source)->tokens();
  auto key = (*source)->NewKey(rng);
  if (!key) {
    problems->push_back(label + ": " + key.error().detail);
    return;
  }
  auto cert = ReadCert(paths.ca_cert);
  if (!cert) {
    problems->push_back(paths.ca_cert + ": unreadable or does not parse");
    return;
  }
  if (auto ok = ca::CheckKeyMatches(*cert->get(), **key); !ok) {
    problems->push_back(label + ": " + ok.error().detail);
    return;
  }
  std::array<unsigned char, ca::kSha256Bytes> digest{};
  if (rng.fill(rng.state, digest.data(), digest.size()) != 0) return;
  auto sig = (*key)->SignDigest(digest, rng);
  if (!sig) {
    problems->push_back(label + ": test signature: " + sig.error().detail);
  } else if (mbedtls_pk_verify(&cert->get()->pk, MBEDTLS_MD_SHA256, digest.data(),
                               digest.size(), sig->data(), sig->size()) != 0) {
    problems->push_back(label + ": the token's test signature does not verify under " +
                        paths.ca_cert);
  }
}

// Generation gen's key, file or token (gen 1: ca.key / ca.key.uri or --ca-key-uri).
void CheckGenerationKey(const CheckConfigInput& input, int64_t gen, ca::Rng rng,
                        std::shared_ptr<ca::token::TokenSet>& tokens,
                        std::vector<std::string>* problems) {
  const ServeConfig& c = input.config;
  const StatePaths paths(GenerationDir(c.state_dir, gen));
  if ((gen <= 1 && !c.ca_key.uri.empty()) || ::access(paths.ca_key_uri.c_str(), F_OK) == 0) {
    CheckTokenKey(c.state_dir, gen, c.ca_key, rng, tokens, problems);
    return;
  }
  const std::string what = gen <= 1 ? "CA" : "CA generation " + std::to_string(gen);
  CheckPair(paths.ca_cert, paths.ca_key, what.c_str(), rng, problems);
  std::vector<std::string> once;  // a missing service user is reported once, for generation 1
  CheckKeyFile(paths.ca_key, ExpectedOwner(input.service_user, gen <= 1 ? problems : &once),
               problems);
}

// The generations whose keys serve may use: those the store does not record as retired, generation
// 1 first, read without opening the store for serve (the SQLite file on a read-only connection;
// PostgreSQL on a session of its own, with --store-password-file's password). Every generation with
// a ca-genN/ca.crt is checked instead when the store has no generation row (no rollover yet), when
// it cannot be located or its SQLite file is missing (both reported elsewhere), and when reading it
// fails (a PostgreSQL outage): checking more keys can only fail where fewer would pass, never the
// reverse, and an outage alone must not fail `systemctl start` or `reload` (ExecStartPre and
// ExecReload run check-config; serve rides out an outage with 503s). The one false failure: a
// retired generation whose key was destroyed, while the store cannot be read.
std::vector<int64_t> GenerationsToCheck(const ServeConfig& c) {
  std::vector<int64_t> gens;
  auto location = StoreLocation::Resolve(c.store, c.state_dir);
  if (location &&
      (location->postgres() || ::access(location->sqlite_path().c_str(), R_OK) == 0)) {
    auto states = location->ReadCaGenerationStates();
    if (states && !states->empty()) {
      for (const auto& [gen, state] : *states) {
        if (state != "retired") gens.push_back(gen);
      }
      return gens;
    }
  }
  gens.push_back(1);
  for (int64_t gen = 2;; ++gen) {
    if (::access(StatePaths(GenerationDir(c.state_dir, gen)).ca_cert.c_str(), F_OK) != 0) break;
    gens.push_back(gen);
  }
  return gens;
}

void CheckTrust(const std::vector<std::string>& trust_paths, const ca::CrtChain* issuing_ca,
                std::vector<std::string>* problems) {
  for (const auto& trust : trust_paths) {
    auto files = ExpandTrustPath(trust);
    if (!files) {
      problems->push_back("trust " + files.error().detail);
      continue;
    }
    for (const auto& f : *files) {
      auto pem = ReadFile(f);
      if (!pem) {
        problems->push_back("trust " + pem.error().detail);
      } else if (auto c = ca::ParseCertificates(*pem); !c) {
        problems->push_back("trust " + f + ": " + c.error().detail);
      } else if (issuing_ca != nullptr) {
        if (auto copy = ca::FindCaLookalike(*(*c)->get(), *issuing_ca->get())) {
          problems->push_back(TrustHoldsCaProblem(f, *copy));
        }
      }
    }
  }
}

}  // namespace

std::string TrustHoldsCaProblem(const std::string& file, const std::string& what) {
  return "trust " + file + ": certificate " + what +
         " (a copy or re-issue of provisiond's CA); remove it: the issuing CA is trusted for "
         "re-enrollment already, and a copy in the trust store lets operational certificates "
         "pass as bootstrap ones";
}

std::vector<std::string> CheckServeFiles(const CheckConfigInput& input) {
  std::vector<std::string> problems;
  const ServeConfig& c = input.config;
  // serve's own listener wants ADDR:PORT (only metrics-listen takes a bare port).
  if (c.listen.find(':') == std::string::npos) {
    problems.push_back("listen: want ADDR:PORT, got " + c.listen);
  } else if (auto r = CheckListenAddress(c.listen); !r) {
    problems.push_back("listen: " + r.error().detail);
  }
  if (!c.metrics_listen.empty()) {
    if (auto r = CheckListenAddress(c.metrics_listen); !r) {
      problems.push_back("metrics-listen: " + r.error().detail);
    }
  }
  if (!c.crl_listen.empty()) {
    if (auto r = CheckListenAddress(c.crl_listen); !r) {
      problems.push_back("crl-listen: " + r.error().detail);
    }
  }
  if (c.trust_paths.empty()) {
    problems.push_back("trust: not set (--trust, or trust = [...] under [serve])");
  }
  CheckTrust(c.trust_paths, ReadIssuingCa(c.state_dir).get(), &problems);
  if (c.state_dir.empty()) {
    problems.push_back("state-dir: not set (--state-dir, or state-dir under [serve])");
    return problems;
  }
  struct stat st {};
  if (::stat(c.state_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    problems.push_back(c.state_dir + ": not a directory (run `provisiond init` first)");
    return problems;
  }
  auto drbg = ca::Drbg::FromSystemEntropy();
  if (!drbg) {
    problems.push_back("random generator: " + drbg.error().detail);
    return problems;
  }
  StatePaths paths(c.state_dir);
  auto store = db::ParseStoreUrl(c.store.url.empty() ? "sqlite:" + paths.database : c.store.url);
  // Every CA generation's key that is not retired (#19 part 3: docs/rollover.md).
  std::shared_ptr<ca::token::TokenSet> tokens;
  for (int64_t gen : GenerationsToCheck(c)) {
    CheckGenerationKey(input, gen, (*drbg)->rng(), tokens, &problems);
  }
  CheckPair(paths.server_cert, paths.server_key, "server", (*drbg)->rng(), &problems);
  CheckKeyFile(paths.server_key, std::nullopt, &problems);
  // The SQLite file serve would open (main checks a --store URL and password file; a PostgreSQL
  // store is contacted only to read the generations' states above).
  if (store && store->engine == db::StoreUrl::Engine::kSqlite &&
      ::access(store->sqlite_path.c_str(), R_OK) != 0) {
    problems.push_back(store->sqlite_path + ": " + std::strerror(errno));
  }
  return problems;
}

}  // namespace provisiond
