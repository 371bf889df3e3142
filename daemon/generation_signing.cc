// generation_signing.cc — the active generation's signer and every generation's roots
// (generation_signing.h).
#include "daemon/generation_signing.h"

#include <mbedtls/pk.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include "ca/encoding.h"
#include "daemon/ca_generations.h"
#include "daemon/files.h"

namespace provisiond {
namespace {

base::Result<std::unique_ptr<ca::CrtChain>> LoadRoot(const std::string& path) {
  auto pem = ReadFile(path);
  if (!pem) return std::unexpected(pem.error());
  auto crt = ca::ParseCertificates(*pem);
  if (!crt) return base::Fail(base::Code::kInvalidArgument, path + ": " + crt.error().detail);
  return std::move(*crt);
}

// N for a directory named "ca-genN" (N >= 2), else 0.
int64_t GenOfDirName(std::string_view name) {
  constexpr std::string_view kPrefix = "ca-gen";
  if (!name.starts_with(kPrefix)) return 0;
  name.remove_prefix(kPrefix.size());
  int64_t gen = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), gen);
  if (name.empty() || ec != std::errc() || end != name.data() + name.size() || gen < 2) return 0;
  return gen;
}

}  // namespace

base::Result<int64_t> ActiveGeneration(db::Store& store) {
  auto generations = store.ListCaGenerations();
  if (!generations) {
    return base::Fail(base::Code::kIo, "CA generations: " + generations.error().detail);
  }
  if (generations->empty()) return 1;
  for (const db::CaGeneration& g : *generations) {
    if (g.state == "active") return g.gen;
  }
  return base::Fail(base::Code::kInvalidArgument, "the store names no active CA generation");
}

base::Result<GenerationSigner> GenerationSigner::Open(const std::string& state_dir, int64_t gen,
                                                      const CaKeyOptions& options) {
  GenerationSigner s;
  s.gen = gen;
  auto drbg = ca::Drbg::FromSystemEntropy();
  if (!drbg) return base::Fail(base::Code::kInternal, drbg.error().detail);
  s.drbg = std::move(*drbg);
  auto crt = LoadRoot(StatePaths(GenerationDir(state_dir, gen)).ca_cert);
  if (!crt) {
    return base::Fail(crt.error().code,
                      "CA generation " + std::to_string(gen) + ": " + crt.error().detail);
  }
  s.crt = std::move(*crt);
  auto source = OpenGenerationKey(state_dir, gen, options, s.drbg->rng(), nullptr);
  if (!source) return std::unexpected(source.error());
  s.source = std::move(*source);
  auto key = s.source->NewKey(s.drbg->rng());
  if (!key) return std::unexpected(key.error());
  s.key = std::move(*key);
  return s;
}

base::Result<std::string> GenerationSigner::Checkpoint(const ca::AuditCheckpoint& checkpoint) {
  auto text = ca::SignAuditCheckpoint(checkpoint, *crt->get(), *key, drbg->rng());
  if (!text) return base::Fail(base::Code::kInternal, text.error().detail);
  return *text;
}

base::Result<base::Bytes> GenerationSigner::Sign(const unsigned char (&digest)[32]) {
  auto sig = key->SignDigest(std::span<const unsigned char, 32>(digest), drbg->rng());
  if (!sig) return base::Fail(base::Code::kInternal, sig.error().detail);
  return *sig;
}

base::Result<std::vector<GenerationRoot>> LoadGenerationRoots(const std::string& state_dir) {
  std::vector<GenerationRoot> roots;
  auto first = LoadRoot(StatePaths(state_dir).ca_cert);
  if (!first) return std::unexpected(first.error());
  roots.push_back({.gen = 1, .crt = std::move(*first)});
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(state_dir, ec)) {
    const int64_t gen = GenOfDirName(entry.path().filename().string());
    if (gen == 0) continue;
    const std::string path = StatePaths(entry.path().string()).ca_cert;
    if (!std::filesystem::exists(path, ec)) continue;  // a rollover that failed half-way
    auto crt = LoadRoot(path);
    if (!crt) return std::unexpected(crt.error());
    roots.push_back({.gen = gen, .crt = std::move(*crt)});
  }
  if (ec) return base::Fail(base::Code::kIo, state_dir + ": " + ec.message());
  std::sort(roots.begin(), roots.end(),
            [](const GenerationRoot& a, const GenerationRoot& b) { return a.gen < b.gen; });
  return roots;
}

int64_t GenerationThatSigned(const std::vector<GenerationRoot>& roots,
                             std::span<const unsigned char, 32> digest,
                             const base::Bytes& signature) {
  for (const GenerationRoot& root : roots) {
    if (mbedtls_pk_verify(&root.crt->get()->pk, MBEDTLS_MD_SHA256, digest.data(), digest.size(),
                          signature.data(), signature.size()) == 0) {
      return root.gen;
    }
  }
  return 0;
}

base::Result<SignedCheckpoint> VerifyCheckpointUnderAny(std::string_view text,
                                                        const std::vector<GenerationRoot>& roots) {
  std::string gens;
  for (const GenerationRoot& root : roots) {
    auto cp = ca::VerifyAuditCheckpoint(text, *root.crt->get());
    if (cp) return SignedCheckpoint{.checkpoint = *cp, .gen = root.gen};
    // Out of form: the same under every root, so say so now.
    if (cp.error().code != ca::Code::kCrypto) {
      return base::Fail(base::Code::kInvalidArgument, cp.error().detail);
    }
    gens += (gens.empty() ? "" : ", ") + std::to_string(root.gen);
  }
  return base::Fail(base::Code::kInvalidArgument,
                    "audit checkpoint: the signature does not verify under the CA certificate of "
                    "any generation (generations " + gens + ")");
}

}  // namespace provisiond
