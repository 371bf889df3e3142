// ca_key_watch.cc — the probe of a token CA key and its /healthz verdict and metrics (see
// ca_key_watch.h).
#include "daemon/ca_key_watch.h"

#include <mbedtls/pk.h>
#include <pthread.h>

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

CaKeyProbe::CaKeyProbe(CaKeySource& source, std::chrono::milliseconds period)
    : source_(source), period_(period), thread_([this] { Run(); }) {}

CaKeyProbe::~CaKeyProbe() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

bool CaKeyProbe::Healthy(std::string* reason) const {
  std::lock_guard lock(mu_);
  if (up_) return true;
  std::string why = reason_.empty() ? "no signature" : reason_;
  if (why.size() > 200) why.resize(200);  // one line, bounded: /healthz answers in one packet
  *reason = "CA key unavailable: " + why;
  return false;
}

// One signature over a random digest, verified under the key's own public half: an answer that
// does not verify is as down as no answer. The key is kept across failures: a token key reopens
// its session (and re-initialises the module) by itself when asked to sign again.
void CaKeyProbe::ProbeOnce(std::unique_ptr<ca::CaKey>& key, ca::Rng rng) {
  std::string error;
  if (!key) {
    auto opened = source_.NewKey(rng);
    if (opened) key = std::move(*opened);
    else error = opened.error().detail;
  }
  if (key) {
    std::array<unsigned char, ca::kSha256Bytes> digest{};
    auto pub = ca::PublicKeyOf(*key);
    auto sig = rng.fill(rng.state, digest.data(), digest.size()) == 0
                   ? key->SignDigest(digest, rng)
                   : ca::Fail(ca::Code::kCrypto, "rng failed");
    if (!sig) {
      error = sig.error().detail;
    } else if (!pub || mbedtls_pk_verify((*pub)->get(), MBEDTLS_MD_SHA256, digest.data(),
                                         digest.size(), sig->data(), sig->size()) != 0) {
      error = "the test signature does not verify";
    }
  }
  std::lock_guard lock(mu_);
  const bool was_up = up_;
  up_ = error.empty();
  if (!up_) {
    reason_ = std::move(error);
    ++failures_;
  }
  // One line when the key goes away and one when it is back, not one a second.
  if (was_up && !up_) Log(Priority::kErr, "ca_key_unavailable", {{"reason", reason_}});
  if (!was_up && up_) Log(Priority::kNotice, "ca_key_available", {{"key", source_.description()}});
}

void CaKeyProbe::Run() {
  pthread_setname_np(pthread_self(), "ca-key-probe");
  auto drbg = ca::Drbg::FromSystemEntropy();
  std::unique_ptr<ca::CaKey> key;
  std::unique_lock lock(mu_);
  if (!drbg) {
    up_ = false;
    reason_ = "probe: " + drbg.error().detail;
    return;
  }
  do {
    lock.unlock();
    ProbeOnce(key, (*drbg)->rng());
    lock.lock();
  } while (!wake_.wait_for(lock, period_, [this] { return stopping_; }));
}

void CaKeyProbe::Render(std::string* out) const {
  {
    std::lock_guard lock(mu_);
    KeyMetric(out, "provisiond_ca_key_up",
          "Whether the CA key signed the last probe (1) or is out of reach (0).", up_ ? 1 : 0,
          "gauge");
    KeyMetric(out, "provisiond_ca_key_probe_failures_total",
          "Probes of the CA key (one signature a second) that failed.", failures_);
  }
  const ca::token::Token* token = source_.token();
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
