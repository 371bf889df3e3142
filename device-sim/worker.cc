// worker.cc — a worker's set-up and its event loop: start enrollments up to the thread's share of
// --concurrency (within --rate, --count and --duration), dispatch socket readiness, sweep
// deadlines, reap finished enrollments.
#include "device-sim/worker.h"

#include <algorithm>

#include "device-sim/csr_builder.h"

namespace devsim {
namespace {

// Deadlines and back-off wake-ups are checked this often.
constexpr Clock::duration kSweepInterval = std::chrono::milliseconds(50);

// This worker's share of `total` when it is split across `parts` workers.
int ShareOf(int total, int parts, int index) {
  return total / parts + (index < total % parts ? 1 : 0);
}

}  // namespace

Worker::Worker(SharedRun& shared, int index) : shared_(shared), plan_(shared.plan), index_(index) {}

base::Result<std::unique_ptr<Worker>> Worker::Create(SharedRun& shared, int index) {
  std::unique_ptr<Worker> worker(new Worker(shared, index));
  if (auto ok = worker->Init(); !ok) return std::unexpected(ok.error());
  return worker;
}

base::Result<void> Worker::Init() {
  auto drbg = ca::Drbg::FromSystemEntropy();
  if (!drbg) return std::unexpected(ca::ToBaseError(drbg.error()));
  drbg_ = std::move(*drbg);
  const ca::Rng rng = drbg_->rng();
  auto trust = ca::ParseCertificates(plan_.ca_bundle_pem);
  if (!trust) return std::unexpected(ca::ToBaseError(trust.error()));
  trust_ = std::move(*trust);
  for (auto [pem, out] :
       {std::pair{&plan_.rogue_ca, &rogue_ca_}, {&plan_.factory_ca, &factory_ca_}}) {
    if (!pem->has_value()) continue;
    auto ca = ParseSigningCa(**pem, rng);
    if (!ca) return std::unexpected(ca::ToBaseError(ca.error()));
    out->emplace(std::move(*ca));
  }
  auto key = ca::PrivateKey::GenerateP256(rng);
  if (!key) return std::unexpected(ca::ToBaseError(key.error()));
  scratch_key_ = std::move(*key);
  auto csr = BuildCsr("device-sim", *scratch_key_, rng);
  auto spki = scratch_key_->PublicKeyDer();
  if (!csr || !spki) return base::Fail(base::Code::kInternal, "placeholder CSR");
  placeholder_csr_ = std::move(*csr);
  placeholder_spki_ = std::move(*spki);
  auto poller = Poller::Create();
  if (!poller) return std::unexpected(poller.error());
  poller_ = std::move(*poller);
  unsigned seed = 0;
  rng.fill(rng.state, reinterpret_cast<unsigned char*>(&seed), sizeof seed);
  jitter_.seed(seed);
  env_ = EnrollEnv{
      &plan_.server, &plan_.tls, &plan_.target,      trust_->get(),     rng,
      poller_.get(), &jitter_,   plan_.step_timeout, plan_.max_retries, &server_cert_cache_,
      plan_.retry_connections,     &shared_.timeline,
      plan_.follow_rollover.empty() ? nullptr : &plan_.follow_rollover};
  for (size_t i = static_cast<size_t>(index_); i < plan_.devices.size();
       i += static_cast<size_t>(plan_.threads)) {
    devices_.push_back(Device{.id = plan_.devices[i]});
  }
  concurrency_ = std::max(1, ShareOf(plan_.concurrency, plan_.threads, index_));
  return {};
}

void Worker::Run() {
  Clock::time_point now = Clock::now();
  last_sweep_ = now;
  while (true) {
    now = Clock::now();
    if ((plan_.duration && now - shared_.start >= *plan_.duration) ||
        (shared_.interrupted != nullptr && shared_.interrupted->load())) {
      shared_.stop.store(true);
    }
    StartMore(now);
    const bool reaped = Reap();
    if (jobs_.empty() && !CanStart()) break;
    // A reaped job freed a slot: only poll, so the next turn fills it without waiting. Never
    // skip polling, or jobs that fail at once could starve the connections in flight.
    poller_->Dispatch(reaped ? 0 : TimeoutMs(now));
    now = Clock::now();
    if (now - last_sweep_ >= kSweepInterval) {
      Sweep(now);
      last_sweep_ = now;
    }
    Reap();
  }
}

bool Worker::CanStart() const { return !exhausted_ && !slots_done_ && !shared_.stop.load(); }

void Worker::StartMore(Clock::time_point now) {
  while (jobs_.size() < static_cast<size_t>(concurrency_) && CanStart()) {
    if (token_wait_until_ && now < *token_wait_until_) return;
    Device* device = PeekDevice();
    if (device == nullptr) {
      exhausted_ = !plan_.cycle_devices || devices_.empty();
      return;  // cycling: every device of ours is busy; one will come free
    }
    if (auto wait = shared_.TakeToken(now)) {
      token_wait_until_ = now + *wait;
      return;
    }
    token_wait_until_.reset();
    const auto slot = shared_.ClaimSlot();
    if (!slot) {
      slots_done_ = true;
      return;
    }
    cursor_ = peeked_ + 1;
    StartJob(*slot, plan_.schedule.At(*slot), *device, now);
  }
}

Worker::Device* Worker::PeekDevice() {
  if (!plan_.cycle_devices) {
    if (cursor_ >= devices_.size()) return nullptr;
    peeked_ = cursor_;
    return &devices_[cursor_];
  }
  for (size_t i = 0; i < devices_.size(); ++i) {
    const size_t at = (cursor_ + i) % devices_.size();
    if (!devices_[at].busy) {
      peeked_ = at;
      return &devices_[at];
    }
  }
  return nullptr;
}

int Worker::TimeoutMs(Clock::time_point now) const {
  Clock::time_point next = now + kSweepInterval;
  if (token_wait_until_) next = std::min(next, *token_wait_until_);
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
  return static_cast<int>(std::clamp<long>(wait, 1, 50));
}

void Worker::Sweep(Clock::time_point now) {
  for (auto& job : jobs_) job->enrollment->OnTimer(now);
}

bool Worker::Reap() {
  bool any = false;
  for (size_t i = 0; i < jobs_.size();) {
    Job& job = *jobs_[i];
    if (!job.enrollment->done()) {
      ++i;
      continue;
    }
    any = true;
    if (!OnJobDone(job, Clock::now())) {
      ++i;  // it went on to its next stage
      continue;
    }
    jobs_[i] = std::move(jobs_.back());
    jobs_.pop_back();
  }
  return any;
}

}  // namespace devsim
