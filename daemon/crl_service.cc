// crl_service.cc — the live CRL: regenerating thread and listener (see crl_service.h).
#include "daemon/crl_service.h"

#include <pthread.h>

#include <ctime>

#include "ca/crl.h"
#include "ca/encoding.h"
#include "ca/rng.h"
#include "daemon/crl_build.h"
#include "daemon/log.h"

namespace provisiond {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kClientDeadline = std::chrono::seconds(2);

base::UnixTime WallNow() { return static_cast<base::UnixTime>(std::time(nullptr)); }

}  // namespace

CrlService::CrlService(std::unique_ptr<db::Store> store, std::unique_ptr<ca::CrtChain> ca,
                       CaKeyFactory keys, CrlServiceOptions options)
    : store_(std::move(store)), ca_(std::move(ca)), keys_(std::move(keys)), options_(options) {}

base::Result<std::unique_ptr<CrlService>> CrlService::Start(std::unique_ptr<db::Store> store,
                                                            std::string_view ca_cert_pem,
                                                            CaKeyFactory keys,
                                                            CrlServiceOptions options,
                                                            base::UniqueFd listen_fd) {
  auto ca = ca::ParseCertificates(ca_cert_pem);
  if (!ca) return base::Fail(base::Code::kInvalidArgument, "ca.crt: " + ca.error().detail);
  std::unique_ptr<CrlService> service(
      new CrlService(std::move(store), std::move(*ca), std::move(keys), options));
  CrlService* self = service.get();
  auto http = SideHttp::Start(
      std::move(listen_fd),
      [self](std::string_view head) {
        auto crl = self->Current();
        return AnswerCrlRequest(head, crl.get(), WallNow());
      },
      "crl-http", kClientDeadline);
  if (!http) return std::unexpected(http.error());
  service->http_ = std::move(*http);
  service->thread_ = std::thread([self] { self->Run(); });
  return service;
}

CrlService::~CrlService() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  http_.reset();  // before the members its answer function reads
}

std::shared_ptr<const PublishedCrl> CrlService::Current() const {
  std::lock_guard lock(mu_);
  return current_;
}

bool CrlService::Regenerate(ca::Rng rng, std::unique_ptr<ca::CaKey>& key) {
  auto fail = [&](const char* stage, const std::string& code, const std::string& detail) {
    const std::string what = std::string(stage) + ":" + code;
    if (what != last_failure_) {  // one line per failure streak, not one per retry
      Log(Priority::kErr, "crl_failed",
          {{"stage", stage}, {"code", code}, {"reason", detail}, {"kept", "previous CRL"}});
    }
    last_failure_ = what;
    return false;
  };
  if (!key) {
    auto made = keys_(rng);
    if (!made) return fail("key", base::CodeName(made.error().code), made.error().detail);
    key = std::move(*made);
  }
  const auto started = Clock::now();
  const base::UnixTime now = WallNow();
  const auto period = static_cast<base::UnixTime>(options_.period.count());
  auto contents = CrlFromStore(*store_, now, 2 * period, period);
  if (!contents) return fail("store", "store_error", contents.error().detail);
  auto der = ca::SignCrl(contents->spec, *ca_->get(), *key, rng);
  if (!der) return fail("sign", ca::CodeName(der.error().code), der.error().detail);
  auto crl = std::make_shared<PublishedCrl>();
  crl->der.assign(der->begin(), der->end());
  crl->pem = ca::DerToPem(*der, "X509 CRL");
  crl->number = contents->number;
  crl->entries = contents->spec.revoked.size();
  crl->this_update = now;
  crl->next_regeneration = now + period;
  crl->etag = "\"crl-" + std::to_string(contents->number) + "\"";
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  {
    std::lock_guard lock(mu_);
    current_ = crl;
  }
  Log(last_failure_.empty() ? Priority::kInfo : Priority::kNotice, "crl_published",
      {{"number", std::to_string(crl->number)},
       {"entries", std::to_string(crl->entries)},
       {"bytes", std::to_string(crl->der.size())},
       {"ms", std::to_string(ms)}});
  last_failure_.clear();
  return true;
}

void CrlService::Run() {
  pthread_setname_np(pthread_self(), "crl-regen");
  auto drbg = ca::Drbg::FromSystemEntropy();
  if (!drbg) {
    Log(Priority::kErr, "crl_stopped", {{"reason", drbg.error().detail}});
    return;
  }
  std::unique_ptr<ca::CaKey> key;  // the one key this thread signs with
  int64_t published_count = -1;    // RevocationCount when the served CRL was read
  auto next_due = Clock::now();    // the timer
  auto retry_at = Clock::now();
  for (;;) {
    const auto now = Clock::now();
    if (now >= retry_at) {
      auto count = store_->RevocationCount();
      if (!count) {
        retry_at = now + options_.retry;  // the store is down: keep serving, ask again
      } else if (*count != published_count || now >= next_due) {
        // The count is read before the entries: a revocation landing in between raises it
        // again, and the next poll signs once more.
        if (Regenerate((*drbg)->rng(), key)) {
          published_count = *count;
          next_due = now + options_.period;
        } else {
          retry_at = now + options_.retry;
        }
      }
    }
    std::unique_lock lock(mu_);
    if (stop_cv_.wait_for(lock, options_.poll, [this] { return stop_; })) return;
  }
}

}  // namespace provisiond
