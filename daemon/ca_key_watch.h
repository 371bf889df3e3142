// ca_key_watch.h — the CA keys' health as the daemon reports it: CaKeyProbe signs a random digest
// with each key serve signs with (the active CA generation's and, while it is trusted, the
// previous one's: docs/rollover.md) once a second, each with a key of its own (a token's keys
// only; a file key cannot go away), and checks the signature, so an outage and the recovery of
// any of them show on /healthz and in provisiond_ca_key_* even when no device is enrolling.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ca/ca_key.h"
#include "daemon/ca_key_source.h"

namespace provisiond {

// One key the probe signs with: a CA generation and its key source.
struct ProbedKey {
  int64_t gen = 1;
  CaKeySource* source = nullptr;  // outlives the probe (serve keeps every generation's source)
  bool operator==(const ProbedKey&) const = default;
};

class CaKeyProbe {
 public:
  // Each source must outlive the probe. The probe opens its own CaKey of each (a session of its
  // own) lazily.
  explicit CaKeyProbe(std::vector<ProbedKey> keys,
                      std::chrono::milliseconds period = std::chrono::seconds(1));
  ~CaKeyProbe();  // stops and joins (a signature in flight is bounded by the token)
  CaKeyProbe(const CaKeyProbe&) = delete;
  CaKeyProbe& operator=(const CaKeyProbe&) = delete;

  // The keys to probe from now on (a reload that changed the CA generations); the next probe
  // signs with them. A generation dropped is forgotten, a new one starts up.
  void SetKeys(std::vector<ProbedKey> keys);

  // /healthz's part: true while the last probe of every key signed; else false and *reason is
  // one line, "CA key unavailable: generation N: <the error>" (the oldest generation down).
  bool Healthy(std::string* reason) const;

  // provisiond_ca_key_up (1 only while every probed key signs),
  // provisiond_ca_key_generation_up{gen="N"}, provisiond_ca_key_probe_failures_total and, for a
  // token,
  // provisiond_ca_key_errors_total{code="CKR_..."}, provisiond_ca_key_logins_total,
  // provisiond_ca_key_sessions_opened_total, provisiond_ca_key_signatures_total.
  void Render(std::string* out) const;

 private:
  struct KeyState {
    CaKeySource* source = nullptr;
    bool up = true;
    std::string reason;
  };
  void Run();
  // One signature with `source`'s key; "" when it signed and verified, else why not.
  static std::string ProbeOnce(CaKeySource& source, std::unique_ptr<ca::CaKey>& key, ca::Rng rng);

  const std::chrono::milliseconds period_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::map<int64_t, KeyState> keys_;  // by generation
  std::string drbg_error_;            // the probe thread could not start its DRBG
  uint64_t failures_ = 0;
  std::thread thread_;  // last: started once the rest is built
};

// The metrics of a file key (always up), for a daemon without a probe.
void RenderFileCaKeyMetrics(std::string* out);

}  // namespace provisiond
