// generation_signing.cc — the active generation's signer and every generation's roots
// (generation_signing.h).
#include "daemon/generation_signing.h"

#include <mbedtls/pk.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <set>

#include "ca/encoding.h"
#include "ca/tbs.h"
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

// N for a directory named exactly "ca-genN" (N >= 2, decimal, no leading zero: the name
// GenerationDir writes), else 0. "ca-gen02" or "ca-gen+3" is not a generation's directory.
int64_t GenOfDirName(std::string_view name) {
  constexpr std::string_view kPrefix = "ca-gen";
  if (!name.starts_with(kPrefix)) return 0;
  name.remove_prefix(kPrefix.size());
  if (name.empty() || name.size() > 18 || name.front() == '0') return 0;
  int64_t gen = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), gen);
  if (ec != std::errc() || end != name.data() + name.size() || gen < 2) return 0;
  return gen;
}

// Why generation gen's root (crt, from dir/ca.crt) is not linked from the accepted root of
// generation gen-1 (prev): "" when dir/newwithold.crt is signed by prev's key and carries crt's
// subject and public key, the link `ca rollover` writes (ca/rollover.h).
std::string LinkProblem(const std::string& dir, int64_t gen, const mbedtls_x509_crt& crt,
                        const mbedtls_x509_crt* prev) {
  const std::string before = std::to_string(gen - 1);
  if (prev == nullptr) return "generation " + before + "'s root is not accepted";
  auto pem = ReadFile(dir + "/newwithold.crt");
  if (!pem) return "no readable newwithold.crt";
  auto link = ca::ParseCertificates(*pem);
  if (!link) return "newwithold.crt does not parse";
  const mbedtls_x509_crt& l = *(*link)->get();
  if (!ca::CheckSigned(ca::CertDer(l), std::span(l.tbs.p, l.tbs.len), *prev)) {
    return "newwithold.crt is not signed by generation " + before + "'s key";
  }
  if (!ca::SameKey(l, crt) || !ca::SameSubject(l, crt)) {
    return "newwithold.crt does not carry ca.crt's subject and key";
  }
  return "";
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
  std::set<int64_t> gens;
  std::error_code ec;
  std::filesystem::directory_iterator it(state_dir, ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const int64_t gen = GenOfDirName(it->path().filename().string());
    if (gen != 0) gens.insert(gen);
  }
  if (ec) return base::Fail(base::Code::kIo, state_dir + ": " + ec.message());
  // Oldest first, so that generation gen-1's root is decided before gen's link is checked.
  for (const int64_t gen : gens) {
    const std::string dir = GenerationDir(state_dir, gen);
    const std::string path = StatePaths(dir).ca_cert;
    if (!std::filesystem::exists(path, ec)) continue;  // a rollover that failed half-way
    auto crt = LoadRoot(path);
    if (!crt) return std::unexpected(crt.error());
    const GenerationRoot& last = roots.back();
    const mbedtls_x509_crt* prev = last.gen == gen - 1 && last.crt ? last.crt->get() : nullptr;
    GenerationRoot root{.gen = gen};
    root.left_out = LinkProblem(dir, gen, *(*crt)->get(), prev);
    if (root.left_out.empty()) root.crt = std::move(*crt);
    roots.push_back(std::move(root));
  }
  return roots;
}

std::string LeftOutNote(const std::vector<GenerationRoot>& roots) {
  std::string note;
  for (const GenerationRoot& root : roots) {
    if (root.crt) continue;
    note += (note.empty() ? "; left out: generation " : "; generation ") +
            std::to_string(root.gen) + " (" + root.left_out + ")";
  }
  return note;
}

int64_t GenerationThatSigned(const std::vector<GenerationRoot>& roots,
                             std::span<const unsigned char, 32> digest,
                             const base::Bytes& signature) {
  for (const GenerationRoot& root : roots) {
    if (root.crt && mbedtls_pk_verify(&root.crt->get()->pk, MBEDTLS_MD_SHA256, digest.data(),
                                      digest.size(), signature.data(), signature.size()) == 0) {
      return root.gen;
    }
  }
  return 0;
}

base::Result<SignedCheckpoint> VerifyCheckpointUnderAny(std::string_view text,
                                                        const std::vector<GenerationRoot>& roots) {
  std::string gens;
  for (const GenerationRoot& root : roots) {
    if (!root.crt) continue;
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
                    "any generation (generations " + gens + ")" + LeftOutNote(roots));
}

}  // namespace provisiond
