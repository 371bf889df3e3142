// slow_fleet.cc — the slowloris thread (see slow_fleet.h).
#include "device-sim/slow_fleet.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace devsim {
namespace {

// Bytes are due once per --slow-interval; this is how often the thread looks.
constexpr auto kTick = std::chrono::milliseconds(50);

}  // namespace

base::Result<std::unique_ptr<SlowFleet>> SlowFleet::Create(const RunPlan& plan) {
  std::unique_ptr<SlowFleet> fleet(new SlowFleet(plan));
  if (auto ok = fleet->Init(); !ok) return std::unexpected(ok.error());
  return fleet;
}

base::Result<void> SlowFleet::Init() {
  auto drbg = ca::Drbg::FromSystemEntropy();
  if (!drbg) return std::unexpected(ca::ToBaseError(drbg.error()));
  drbg_ = std::move(*drbg);
  auto trust = ca::ParseCertificates(plan_.ca_bundle_pem);
  if (!trust) return std::unexpected(ca::ToBaseError(trust.error()));
  trust_ = std::move(*trust);
  auto hello = CaptureClientHello(plan_.tls, trust_->get(), drbg_->rng());
  if (!hello) return std::unexpected(hello.error());
  ClientIdentity identity;
  if (!plan_.devices.empty()) {
    auto creds = LoadCredentials(plan_.fleet_dir, plan_.devices.front(), EstOperation::kEnroll,
                                 drbg_->rng());
    if (creds) {
      creds_ = std::make_unique<Credentials>(std::move(*creds));
      identity = {creds_->cert->get(), creds_->key->pk()};
    }
  }
  auto poller = Poller::Create();
  if (!poller) return std::unexpected(poller.error());
  poller_ = std::move(*poller);
  env_ = std::make_unique<SlowEnv>(SlowEnv{
      &plan_.server, &plan_.tls, trust_->get(), identity, drbg_->rng(), poller_.get(),
      std::move(*hello),
      "POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: " + plan_.target.host_header +
          "\r\nX-Slow: ",
      plan_.slow_interval, &server_cert_cache_});
  for (int j = 0; j < plan_.slow; ++j) {
    const SlowMode mode = j % 2 == 0 ? SlowMode::kHello : SlowMode::kHeader;
    connections_.push_back(
        std::make_unique<SlowConnection>(*env_, mode, tally_[static_cast<size_t>(mode)]));
  }
  return {};
}

SlowFleet::~SlowFleet() { Stop(); }

void SlowFleet::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "slowloris");
    // Linux nice values are per thread. The server's cost of the slowloris is what it is either
    // way (every handshake still happens, at the pace the server closes and the client reopens);
    // only this process's own share of the CPU yields.
    if (plan_.slow_nice > 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), plan_.slow_nice);
    Run();
  });
}

int SlowFleet::WaitOpen(Clock::duration limit) const {
  const auto until = Clock::now() + limit;
  while (open_.load() < plan_.slow && Clock::now() < until) std::this_thread::sleep_for(kTick);
  return open_.load();
}

void SlowFleet::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void SlowFleet::Run() {
  Clock::time_point now = Clock::now();
  for (auto& c : connections_) c->Open(now);
  Clock::time_point next_tick = now;
  while (!stop_.load()) {
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_tick - Clock::now());
    poller_->Dispatch(static_cast<int>(std::clamp<long>(wait.count(), 0, kTick.count())));
    now = Clock::now();
    if (now < next_tick) continue;
    next_tick = now + kTick;
    int open = 0;
    for (auto& c : connections_) {
      c->OnTimer(now, /*reopen=*/true);
      open += c->Trickling();
    }
    open_.store(open);
  }
  for (auto& c : connections_) c->Shutdown();
}

}  // namespace devsim
