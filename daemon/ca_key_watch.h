// ca_key_watch.h — the CA key's health as the daemon reports it: CaKeyProbe signs a random digest
// with a key of its own once a second (a token key only; a file key cannot go away) and checks
// the signature, so an outage and the recovery show on /healthz and in provisiond_ca_key_* even
// when no device is enrolling.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "ca/ca_key.h"
#include "daemon/ca_key_source.h"

namespace provisiond {

class CaKeyProbe {
 public:
  // source must outlive the probe. The probe opens its own CaKey (a session of its own) lazily.
  explicit CaKeyProbe(CaKeySource& source,
                      std::chrono::milliseconds period = std::chrono::seconds(1));
  ~CaKeyProbe();  // stops and joins (a signature in flight is bounded by the token)
  CaKeyProbe(const CaKeyProbe&) = delete;
  CaKeyProbe& operator=(const CaKeyProbe&) = delete;

  // /healthz's part: true while the last probe signed; else false and *reason is one line,
  // "CA key unavailable: <the error>".
  bool Healthy(std::string* reason) const;

  // provisiond_ca_key_up, provisiond_ca_key_probe_failures_total and, for a token,
  // provisiond_ca_key_errors_total{code="CKR_..."}, provisiond_ca_key_logins_total,
  // provisiond_ca_key_sessions_opened_total, provisiond_ca_key_signatures_total.
  void Render(std::string* out) const;

 private:
  void Run();
  void ProbeOnce(std::unique_ptr<ca::CaKey>& key, ca::Rng rng);

  CaKeySource& source_;
  const std::chrono::milliseconds period_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool up_ = true;
  std::string reason_;
  uint64_t failures_ = 0;
  std::thread thread_;  // last: started once the rest is built
};

// The metrics of a file key (always up), for a daemon without a probe.
void RenderFileCaKeyMetrics(std::string* out);

}  // namespace provisiond
