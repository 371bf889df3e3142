// ca_key_watch.cc — the probe of a token CA key and its /healthz verdict and metrics (see
// ca_key_watch.h).
#include "daemon/ca_key_watch.h"

#include <mbedtls/pk.h>
#include <pthread.h>

#include <algorithm>
#include <array>

#include "ca/rng.h"
#include "daemon/log.h"
#include "daemon/metrics.h"

namespace provisiond {
namespace {

void KeyMetric(std::string* out, const char* name, const char* help, uint64_t value,
           const char* type = "counter") {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
          name + " " + std::to_string(value) + "\n";
}

}  // namespace

CaKeyProbe::CaKeyProbe(std::vector<ProbedKey> keys, std::chrono::milliseconds period)
    : period_(period) {
  SetKeys(std::move(keys));
  thread_ = std::thread([this] { Run(); });
}

CaKeyProbe::~CaKeyProbe() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void CaKeyProbe::SetKeys(std::vector<ProbedKey> keys) {
  std::lock_guard lock(mu_);
  std::map<int64_t, KeyState> next;
  for (const ProbedKey& k : keys) {
    auto it = keys_.find(k.gen);
    next[k.gen] = it != keys_.end() && it->second.source == k.source ? it->second
                                                                     : KeyState{.source = k.source};
  }
  keys_ = std::move(next);
}

bool CaKeyProbe::Healthy(std::string* reason) const {
  std::lock_guard lock(mu_);
  std::string why;
  if (!drbg_error_.empty()) why = drbg_error_;
  for (const auto& [gen, state] : keys_) {
    if (!why.empty()) break;
    if (!state.up) {
      why = "generation " + std::to_string(gen) + ": " +
            (state.reason.empty() ? "no signature" : state.reason);
    }
  }
  if (why.empty()) return true;
  if (why.size() > 200) why.resize(200);  // one line, bounded: /healthz answers in one packet
  *reason = "CA key unavailable: " + why;
  return false;
}

// One signature over a random digest, verified under the key's own public half: an answer that
// does not verify is as down as no answer. The key is kept across failures: a token key reopens
// its session (and re-initialises the module) by itself when asked to sign again.
std::string CaKeyProbe::ProbeOnce(CaKeySource& source, std::unique_ptr<ca::CaKey>& key,
                                  ca::Rng rng) {
  if (!key) {
    auto opened = source.NewKey(rng);
    if (!opened) return opened.error().detail;
    key = std::move(*opened);
  }
  std::array<unsigned char, ca::kSha256Bytes> digest{};
  auto pub = ca::PublicKeyOf(*key);
  auto sig = rng.fill(rng.state, digest.data(), digest.size()) == 0
                 ? key->SignDigest(digest, rng)
                 : ca::Fail(ca::Code::kCrypto, "rng failed");
  if (!sig) return sig.error().detail;
  if (!pub || mbedtls_pk_verify((*pub)->get(), MBEDTLS_MD_SHA256, digest.data(), digest.size(),
                                sig->data(), sig->size()) != 0) {
    return "the test signature does not verify";
  }
  return "";
}

void CaKeyProbe::Run() {
  pthread_setname_np(pthread_self(), "ca-key-probe");
  auto drbg = ca::Drbg::FromSystemEntropy();
  // The probe's own CaKey of each source, by generation: touched by this thread only.
  std::map<int64_t, std::pair<CaKeySource*, std::unique_ptr<ca::CaKey>>> own;
  std::unique_lock lock(mu_);
  if (!drbg) {
    drbg_error_ = "probe: " + drbg.error().detail;
    return;
  }
  do {
    std::vector<ProbedKey> keys;
    for (const auto& [gen, state] : keys_) keys.push_back({.gen = gen, .source = state.source});
    lock.unlock();
    std::vector<std::string> errors;
    for (const ProbedKey& k : keys) {
      auto& [source, key] = own[k.gen];
      if (source != k.source) key.reset();  // another source under this generation: reopen
      source = k.source;
      errors.push_back(ProbeOnce(*k.source, key, (*drbg)->rng()));
    }
    std::erase_if(own, [&](const auto& entry) {
      return std::none_of(keys.begin(), keys.end(),
                          [&](const ProbedKey& k) { return k.gen == entry.first; });
    });
    lock.lock();
    for (size_t i = 0; i < keys.size(); ++i) {
      auto it = keys_.find(keys[i].gen);
      if (it == keys_.end() || it->second.source != keys[i].source) continue;  // replaced meanwhile
      KeyState& state = it->second;
      const bool was_up = state.up;
      state.up = errors[i].empty();
      if (!state.up) {
        state.reason = std::move(errors[i]);
        ++failures_;
      }
      // One line when a key goes away and one when it is back, not one a second.
      if (was_up && !state.up) {
        Log(Priority::kErr, "ca_key_unavailable",
            {{"reason", state.reason}, {"gen", std::to_string(keys[i].gen)}});
      }
      if (!was_up && state.up) {
        Log(Priority::kNotice, "ca_key_available",
            {{"key", state.source->description()}, {"gen", std::to_string(keys[i].gen)}});
      }
    }
  } while (!wake_.wait_for(lock, period_, [this] { return stopping_; }));
}

void CaKeyProbe::Render(std::string* out) const {
  const ca::token::Token* token = nullptr;
  {
    std::lock_guard lock(mu_);
    bool all_up = drbg_error_.empty();
    for (const auto& [gen, state] : keys_) all_up = all_up && state.up;
    KeyMetric(out, "provisiond_ca_key_up",
              "Whether every CA key serve signs with signed the last probe (1) or one is out of "
              "reach (0).",
              all_up ? 1 : 0, "gauge");
    *out += "# HELP provisiond_ca_key_generation_up Whether this CA generation's key signed the "
            "last probe (1) or is out of reach (0).\n"
            "# TYPE provisiond_ca_key_generation_up gauge\n";
    for (const auto& [gen, state] : keys_) {
      *out += "provisiond_ca_key_generation_up{gen=\"" + std::to_string(gen) + "\"} " +
              (state.up ? "1" : "0") + "\n";
    }
    KeyMetric(out, "provisiond_ca_key_probe_failures_total",
          "Probes of a CA key (one signature a second each) that failed.", failures_);
    for (const auto& [gen, state] : keys_) {
      if (token == nullptr) token = state.source->token();
    }
  }
  // Every generation's token key is in one token (one TokenSet per process): its counters.
  if (token == nullptr) return;
  const ca::token::Token::Stats stats = token->stats();
  KeyMetric(out, "provisiond_ca_key_logins_total", "C_Login calls to the token that succeeded.",
        stats.logins);
  KeyMetric(out, "provisiond_ca_key_sessions_opened_total",
        "Token sessions opened (one per signing thread, again after the token closed one).",
        stats.sessions_opened);
  KeyMetric(out, "provisiond_ca_key_signatures_total", "Signatures the token made.", stats.signatures);
  *out += "# HELP provisiond_ca_key_errors_total Failed PKCS#11 calls, by return code.\n"
          "# TYPE provisiond_ca_key_errors_total counter\n";
  for (const auto& [code, n] : stats.errors) {
    *out += "provisiond_ca_key_errors_total{code=\"" + EscapeLabelValue(code) + "\"} " +
            std::to_string(n) + "\n";
  }
}

void RenderFileCaKeyMetrics(std::string* out) {
  KeyMetric(out, "provisiond_ca_key_up",
        "Whether the CA key signed the last probe (1) or is out of reach (0).", 1, "gauge");
}

}  // namespace provisiond
