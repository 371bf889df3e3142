// ca_generations.cc — the CA generations' files and the set serve uses (ca_generations.h).
#include "daemon/ca_generations.h"

#include <filesystem>

#include "ca/cert.h"
#include "ca/encoding.h"
#include "ca/rng.h"
#include "daemon/files.h"

namespace provisiond {

std::string GenerationDir(const std::string& state_dir, int64_t gen) {
  return gen <= 1 ? state_dir : state_dir + "/ca-gen" + std::to_string(gen);
}

base::Result<CaSet> BuildCaSet(const std::vector<db::CaGeneration>& generations,
                               const std::string& ca_cert_pem) {
  CaSet set;
  if (generations.empty()) {
    auto parsed = ca::ParseCertificates(ca_cert_pem);
    if (!parsed) return std::unexpected(ca::ToBaseError(parsed.error()));
    set.active_cert = ca::CertDer(*(*parsed)->get());
    set.trusted_gens = {1};
    set.trusted_certs = {set.active_cert};
    set.cacerts = {set.active_cert};
    return set;
  }
  const db::CaGeneration* active = nullptr;
  const db::CaGeneration* next_to_active = nullptr;  // pending or previous
  for (const db::CaGeneration& g : generations) {
    if (g.state == "active") active = &g;
    if (g.state == "pending" || g.state == "previous") next_to_active = &g;
    if (g.state == "active" || g.state == "previous") {
      set.trusted_gens.push_back(g.gen);
      set.trusted_certs.push_back(g.cert_der);
    }
    if (g.state == "previous") {
      set.previous_gen = g.gen;
      set.previous_cert = g.cert_der;
    }
  }
  if (active == nullptr) {
    return base::Fail(base::Code::kInvalidArgument, "the store names no active CA generation");
  }
  set.active_gen = active->gen;
  set.active_cert = active->cert_der;
  set.server_gen = set.previous_gen != 0 ? set.previous_gen : active->gen;
  for (const db::CaGeneration& g : generations) {
    if (!g.old_with_new_der.empty()) set.server_links.emplace_back(g.gen, g.old_with_new_der);
  }
  set.newest_gen = active->gen;
  set.cacerts = {active->cert_der};
  if (next_to_active != nullptr) {
    // The link pair belongs to the newer of the two generations.
    const db::CaGeneration& newer =
        next_to_active->gen > active->gen ? *next_to_active : *active;
    if (newer.gen != active->gen) set.cacerts.push_back(newer.cert_der);
    set.cacerts.push_back(newer.new_with_old_der);
    set.cacerts.push_back(newer.old_with_new_der);
    set.newest_gen = std::max(active->gen, next_to_active->gen);
  }
  return set;
}

base::Result<CaSet> LoadCaSet(db::Store& store, const std::string& ca_cert_pem) {
  auto generations = store.ListCaGenerations();
  if (!generations) {
    return base::Fail(base::Code::kIo, "CA generations: " + generations.error().detail);
  }
  return BuildCaSet(*generations, ca_cert_pem);
}

base::Result<int64_t> ApplyCaSet(const CaSet& set, const std::string& state_dir,
                                 tls::Material& m) {
  int64_t server_gen = 1;
  const std::string path = StatePaths(GenerationDir(state_dir, set.server_gen)).server_cert;
  std::error_code ec;
  if (set.server_gen >= 2 && std::filesystem::exists(path, ec)) {
    auto pem = ReadFile(path);
    if (!pem) {
      return base::Fail(base::Code::kIo, "generation " + std::to_string(set.server_gen) +
                                             "'s server certificate: " + pem.error().detail);
    }
    m.server_cert_pem = std::move(*pem);
    server_gen = set.server_gen;
  }
  m.ca_cert_pem = ca::DerToPem(set.active_cert, "CERTIFICATE");
  m.reenroll_ca_pem.clear();
  for (const base::Bytes& der : set.trusted_certs) {
    if (der != set.active_cert) m.reenroll_ca_pem += ca::DerToPem(der, "CERTIFICATE");
  }
  for (const auto& [gen, link] : set.server_links) {
    if (gen <= server_gen) continue;  // a link to a key the server certificate's root already is
    if (!m.server_cert_pem.empty() && m.server_cert_pem.back() != '\n') m.server_cert_pem += '\n';
    m.server_cert_pem += ca::DerToPem(link, "CERTIFICATE");
  }
  return server_gen;
}

base::Result<std::unique_ptr<CaKeySource>> OpenGenerationKey(
    const std::string& state_dir, int64_t gen, const CaKeyOptions& options, ca::Rng rng,
    std::shared_ptr<ca::token::TokenSet> tokens) {
  CaKeyOptions own = options;
  if (gen > 1) own.uri.clear();  // --ca-key-uri names generation 1's key; later ones record theirs
  auto source =
      CaKeySource::Open(StatePaths(GenerationDir(state_dir, gen)), own, rng, std::move(tokens));
  if (!source) {
    return base::Fail(source.error().code,
                      "CA generation " + std::to_string(gen) + ": " + source.error().detail);
  }
  return std::move(*source);
}

}  // namespace provisiond
