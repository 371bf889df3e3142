// crl_service.h — serve's live CRL (--crl-listen): a thread that signs one CRL per CA generation
// served (#19 part 3: the active and previous ones, each by its own key, listing that generation's
// certificates) from the store and republishes them within a poll interval of any revocation (by
// this daemon or by `provisiond revoke` in another process: Store::RevocationCount rises), on a
// timer (--crl-period) and when the generations change (SetGenerations, on SIGHUP), and a
// SideHttp listener that serves the newest ones (crl_http.h: /crl is generation 1's, /crl-genN
// generation N's). A CRL that cannot be signed (a token out of reach: kUnavailable) is logged and
// retried; the previous one stays served.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "ca/ca_key.h"
#include "ca/cert.h"
#include "daemon/crl_http.h"
#include "daemon/side_http.h"
#include "db/store.h"

namespace provisiond {

struct CrlServiceOptions {
  std::chrono::seconds period{
      3600};  // timer; nextUpdate = 2 × period, entries kept 1 period after expiry
  std::chrono::milliseconds poll{250};    // how often RevocationCount is read
  std::chrono::milliseconds retry{2000};  // after a failed signature or store error
};

// Makes the one CaKey the regenerating thread signs with (CaKeySource::NewKey in serve).
using CaKeyFactory = std::function<base::Result<std::unique_ptr<ca::CaKey>>(ca::Rng)>;

// One CA generation whose CRL is served: its certificate and its key.
struct CrlGeneration {
  int64_t gen = 1;
  std::string ca_cert_pem;
  CaKeyFactory keys;
};

class CrlService {
 public:
  // Starts the regenerating thread (its own store connection, `store`; its own DRBG and CaKey)
  // and the listener on listen_fd. The first CRL is signed at once; until then /crl answers 503.
  // kInvalidArgument if ca_cert_pem does not parse; kIo if a thread's resources cannot be made.
  // `generations` must not be empty; each is served from its first signed CRL on.
  static base::Result<std::unique_ptr<CrlService>> Start(std::unique_ptr<db::Store> store,
                                                         std::vector<CrlGeneration> generations,
                                                         CrlServiceOptions options,
                                                         base::UniqueFd listen_fd);
  // Generation 1 alone (before any rollover).
  static base::Result<std::unique_ptr<CrlService>> Start(std::unique_ptr<db::Store> store,
                                                         std::string_view ca_cert_pem,
                                                         CaKeyFactory keys,
                                                         CrlServiceOptions options,
                                                         base::UniqueFd listen_fd);
  ~CrlService();  // stops both threads
  CrlService(const CrlService&) = delete;
  CrlService& operator=(const CrlService&) = delete;

  // Serves `generations` from now on (a SIGHUP after `ca activate` or `ca retire`): each is
  // signed again at the thread's next poll; a generation no longer listed answers 404 at once, a
  // new one 503 until its first CRL. kInvalidArgument (nothing changed) if a certificate does not
  // parse or the list is empty.
  base::Result<void> SetGenerations(std::vector<CrlGeneration> generations);

  const std::string& address() const { return http_->address(); }
  // Generation gen's CRL served now; nullptr before its first one (or if it is not served).
  std::shared_ptr<const PublishedCrl> Current(int64_t gen = 1) const;

 private:
  struct Gen {
    int64_t gen = 1;
    std::shared_ptr<ca::CrtChain> ca;
    CaKeyFactory keys;
  };
  static base::Result<std::vector<Gen>> Parse(std::vector<CrlGeneration> generations);
  CrlService(std::unique_ptr<db::Store> store, std::vector<Gen> gens, CrlServiceOptions options);
  void Run();
  // Signs and publishes generation g's CRL; false (logged) if it could not, the previous one kept.
  bool Regenerate(const Gen& g, ca::Rng rng, std::unique_ptr<ca::CaKey>& key);

  std::unique_ptr<db::Store> store_;
  CrlServiceOptions options_;
  std::unique_ptr<SideHttp> http_;
  mutable std::mutex mu_;
  std::vector<Gen> gens_;      // guarded by mu_
  uint64_t gens_version_ = 0;  // guarded by mu_: raised by SetGenerations
  CrlsByGen current_;          // guarded by mu_; a key for every generation of gens_
  std::condition_variable stop_cv_;
  bool stop_ = false;         // guarded by mu_
  std::string last_failure_;  // the regenerating thread's: logs a failure streak once
  std::thread thread_;
};

}  // namespace provisiond
