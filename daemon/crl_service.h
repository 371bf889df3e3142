// crl_service.h — serve's live CRL (--crl-listen): a thread that signs the CA's CRL from the store
// and republishes it within a poll interval of any revocation (by this daemon or by `provisiond
// revoke` in another process: Store::RevocationCount rises) and on a timer (--crl-period), and a
// SideHttp listener that serves the newest one (crl_http.h). A CRL that cannot be signed (a token
// out of reach: kUnavailable) is logged and retried; the previous one stays served.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

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

class CrlService {
 public:
  // Starts the regenerating thread (its own store connection, `store`; its own DRBG and CaKey)
  // and the listener on listen_fd. The first CRL is signed at once; until then /crl answers 503.
  // kInvalidArgument if ca_cert_pem does not parse; kIo if a thread's resources cannot be made.
  static base::Result<std::unique_ptr<CrlService>> Start(std::unique_ptr<db::Store> store,
                                                         std::string_view ca_cert_pem,
                                                         CaKeyFactory keys,
                                                         CrlServiceOptions options,
                                                         base::UniqueFd listen_fd);
  ~CrlService();  // stops both threads
  CrlService(const CrlService&) = delete;
  CrlService& operator=(const CrlService&) = delete;

  const std::string& address() const { return http_->address(); }
  // The CRL served now; nullptr before the first one.
  std::shared_ptr<const PublishedCrl> Current() const;

 private:
  CrlService(std::unique_ptr<db::Store> store, std::unique_ptr<ca::CrtChain> ca, CaKeyFactory keys,
             CrlServiceOptions options);
  void Run();
  // Signs and publishes one CRL; false (logged) if it could not, the previous one kept.
  bool Regenerate(ca::Rng rng, std::unique_ptr<ca::CaKey>& key);

  std::unique_ptr<db::Store> store_;
  std::unique_ptr<ca::CrtChain> ca_;
  CaKeyFactory keys_;
  CrlServiceOptions options_;
  std::unique_ptr<SideHttp> http_;
  mutable std::mutex mu_;
  std::shared_ptr<const PublishedCrl> current_;  // guarded by mu_
  std::condition_variable stop_cv_;
  bool stop_ = false;         // guarded by mu_
  std::string last_failure_;  // the regenerating thread's: logs a failure streak once
  std::thread thread_;
};

}  // namespace provisiond
