// crl_service.cc — the live CRL: regenerating thread and listener (see crl_service.h).
#include "daemon/crl_service.h"

#include <pthread.h>

#include <algorithm>
#include <ctime>
#include <map>

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

CrlService::CrlService(std::unique_ptr<db::Store> store, std::vector<Gen> gens,
                       CrlServiceOptions options)
    : store_(std::move(store)), options_(options), gens_(std::move(gens)) {
  for (const Gen& g : gens_) current_[g.gen] = nullptr;
}

base::Result<std::vector<CrlService::Gen>> CrlService::Parse(
    std::vector<CrlGeneration> generations) {
  if (generations.empty()) return base::Fail(base::Code::kInvalidArgument, "crl: no CA generation");
  std::vector<Gen> gens;
  for (CrlGeneration& g : generations) {
    auto ca = ca::ParseCertificates(g.ca_cert_pem);
    if (!ca) {
      return base::Fail(base::Code::kInvalidArgument, "CA generation " + std::to_string(g.gen) +
                                                          " certificate: " + ca.error().detail);
    }
    gens.push_back(Gen{.gen = g.gen, .ca = std::move(*ca), .keys = std::move(g.keys)});
  }
  return gens;
}

base::Result<std::unique_ptr<CrlService>> CrlService::Start(std::unique_ptr<db::Store> store,
                                                            std::string_view ca_cert_pem,
                                                            CaKeyFactory keys,
                                                            CrlServiceOptions options,
                                                            base::UniqueFd listen_fd) {
  std::vector<CrlGeneration> one;
  one.push_back(CrlGeneration{.gen = 1, .ca_cert_pem = std::string(ca_cert_pem),
                              .keys = std::move(keys)});
  return Start(std::move(store), std::move(one), options, std::move(listen_fd));
}

base::Result<std::unique_ptr<CrlService>> CrlService::Start(std::unique_ptr<db::Store> store,
                                                            std::vector<CrlGeneration> generations,
                                                            CrlServiceOptions options,
                                                            base::UniqueFd listen_fd) {
  auto gens = Parse(std::move(generations));
  if (!gens) return std::unexpected(gens.error());
  std::unique_ptr<CrlService> service(new CrlService(std::move(store), std::move(*gens), options));
  CrlService* self = service.get();
  auto http = SideHttp::Start(
      std::move(listen_fd),
      [self](std::string_view head) {
        CrlsByGen crls;
        {
          std::lock_guard lock(self->mu_);
          crls = self->current_;
        }
        return AnswerCrlRequest(head, crls, WallNow());
      },
      "crl-http", kClientDeadline);
  if (!http) return std::unexpected(http.error());
  service->http_ = std::move(*http);
  service->thread_ = std::thread([self] { self->Run(); });
  return service;
}

base::Result<void> CrlService::SetGenerations(std::vector<CrlGeneration> generations) {
  auto gens = Parse(std::move(generations));
  if (!gens) return std::unexpected(gens.error());
  std::lock_guard lock(mu_);
  CrlsByGen kept;
  for (const Gen& g : *gens) {
    auto it = current_.find(g.gen);
    kept[g.gen] = it == current_.end() ? nullptr : it->second;
  }
  current_ = std::move(kept);
  gens_ = std::move(*gens);
  ++gens_version_;
  return {};
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

std::shared_ptr<const PublishedCrl> CrlService::Current(int64_t gen) const {
  std::lock_guard lock(mu_);
  auto it = current_.find(gen);
  return it == current_.end() ? nullptr : it->second;
}

bool CrlService::Regenerate(const Gen& g, ca::Rng rng, std::unique_ptr<ca::CaKey>& key) {
  const std::string gen = std::to_string(g.gen);
  auto fail = [&](const char* stage, const std::string& code, const std::string& detail) {
    const std::string what = std::string(stage) + ":" + code;
    if (what != last_failure_) {  // one line per failure streak, not one per retry
      Log(Priority::kErr, "crl_failed",
          {{"gen", gen}, {"stage", stage}, {"code", code}, {"reason", detail},
           {"kept", "previous CRL"}});
    }
    last_failure_ = what;
    return false;
  };
  if (!key) {
    auto made = g.keys(rng);
    if (!made) return fail("key", base::CodeName(made.error().code), made.error().detail);
    key = std::move(*made);
  }
  const auto started = Clock::now();
  const base::UnixTime now = WallNow();
  const auto period = static_cast<base::UnixTime>(options_.period.count());
  auto contents = CrlFromStore(*store_, now, 2 * period, period, g.gen);
  if (!contents) return fail("store", "store_error", contents.error().detail);
  auto der = ca::SignCrl(contents->spec, *g.ca->get(), *key, rng);
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
    // Only while the generation is still served (SetGenerations may have dropped it meanwhile).
    if (auto it = current_.find(g.gen); it != current_.end()) it->second = crl;
  }
  Log(last_failure_.empty() ? Priority::kInfo : Priority::kNotice, "crl_published",
      {{"gen", gen},
       {"number", std::to_string(crl->number)},
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
  std::map<int64_t, std::unique_ptr<ca::CaKey>> keys;  // the one key per generation it signs with
  int64_t published_count = -1;    // RevocationCount when the served CRLs were read
  uint64_t published_version = 0;  // gens_version_ they were signed for
  auto next_due = Clock::now();    // the timer
  auto retry_at = Clock::now();
  for (;;) {
    const auto now = Clock::now();
    std::vector<Gen> gens;
    uint64_t version = 0;
    {
      std::lock_guard lock(mu_);
      gens = gens_;
      version = gens_version_;
    }
    if (now >= retry_at) {
      auto count = store_->RevocationCount();
      if (!count) {
        retry_at = now + options_.retry;  // the store is down: keep serving, ask again
      } else if (*count != published_count || now >= next_due || version != published_version) {
        // The count is read before the entries: a revocation landing in between raises it
        // again, and the next poll signs once more. One CRL number per CRL (one counter for
        // every generation: they share the issuer name, so numbers rise across them).
        bool all = true;
        for (const Gen& g : gens) all = Regenerate(g, (*drbg)->rng(), keys[g.gen]) && all;
        std::erase_if(keys, [&](const auto& entry) {
          return std::ranges::none_of(gens, [&](const Gen& g) { return g.gen == entry.first; });
        });
        if (all) {
          published_count = *count;
          published_version = version;
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
