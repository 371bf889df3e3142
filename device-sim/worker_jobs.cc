// worker_jobs.cc — one enrollment slot from start to tally: what each scenario class presents and
// sends, the replay's set-up stage, storing issued certificates, and counting the outcome
// against the class's expectation.
#include <ctime>

#include "device-sim/csr_builder.h"
#include "device-sim/worker.h"

namespace devsim {
namespace {

// Enrolled devices waiting to be replayed, per worker; older ones are let go.
constexpr size_t kMaxReplayPool = 256;

std::string_view AsText(const base::Bytes& der) {
  return {reinterpret_cast<const char*>(der.data()), der.size()};
}

}  // namespace

void Worker::StartJob(uint64_t slot, Scenario scenario, Device& device, Clock::time_point now) {
  auto job = std::make_unique<Job>();
  job->slot = slot;
  job->scenario = scenario;
  job->device = &device;
  device.busy = true;
  shared_.in_flight.fetch_add(1);
  if (scenario == Scenario::kReplay) {
    // Replay a device this worker enrolled earlier in the run; failing that, enroll the slot's
    // own device first (the set-up stage) and then replay it.
    if (Device* target = TakeReplayTarget()) {
      device.busy = false;
      job->device = target;
      target->busy = true;
    } else {
      job->setup_stage = true;
    }
  }
  if (auto launched = Launch(*job, now); !launched) {
    Record(*job, Outcome::Error(launched.error().detail));
    Release(*job);
    return;
  }
  jobs_.push_back(std::move(job));
}

base::Result<void> Worker::Launch(Job& job, Clock::time_point now) {
  auto exchange = Prepare(job);
  // Latency runs from the first connect; making keys and CSRs comes before it.
  if (job.started == Clock::time_point{}) job.started = Clock::now();
  if (!exchange) return std::unexpected(exchange.error());
  job.enrollment = std::make_unique<Enrollment>(env_, std::move(*exchange));
  job.enrollment->Start(std::max(now, job.started));
  return {};
}

base::Result<Exchange> Worker::Prepare(Job& job) {
  switch (job.scenario) {
    case Scenario::kGood:
      return PrepareDeviceExchange(job, false);
    case Scenario::kReplay:
      return PrepareDeviceExchange(job, !job.setup_stage);  // the replay: a different key
    case Scenario::kBadCsr: {
      auto creds = DeviceCredentials(*job.device);
      if (!creds) return std::unexpected(creds.error());
      auto csr = BuildCsr(job.device->id, *scratch_key_, drbg_->rng());
      if (!csr) return std::unexpected(ca::ToBaseError(csr.error()));
      return Exchange{plan_.op,
                      job.device->id,
                      {(*creds)->cert->get(), (*creds)->key->pk()},
                      BreakCsrSignature(std::move(*csr)),
                      placeholder_spki_};
    }
    case Scenario::kRogueCa:
      return PrepareMinted(job, *rogue_ca_, BootstrapKind::kGood);
    case Scenario::kExpired:
      return PrepareMinted(job, *factory_ca_, BootstrapKind::kExpired);
    case Scenario::kNoCert:
      break;
  }
  return Exchange{plan_.op, job.device->id, {}, placeholder_csr_, placeholder_spki_};
}

// The device's own credentials and, unless fresh_key, the key it enrolled with earlier in this
// run (same key, same certificate); else a new P-256 key and CSR.
base::Result<Exchange> Worker::PrepareDeviceExchange(Job& job, bool fresh_key) {
  Device& device = *job.device;
  auto creds = DeviceCredentials(device);
  if (!creds) return std::unexpected(creds.error());
  Exchange exchange{plan_.op, device.id, {(*creds)->cert->get(), (*creds)->key->pk()}, {}, {}};
  if (!fresh_key && device.enrolled_key) {
    exchange.csr_der = device.enrolled_csr;
    exchange.public_key = device.enrolled_spki;
    job.csr_key = device.enrolled_key.get();
    exchange.csr_key = job.csr_key;
    return exchange;
  }
  auto key = ca::PrivateKey::GenerateP256(drbg_->rng());
  if (!key) return std::unexpected(ca::ToBaseError(key.error()));
  auto csr = BuildCsr(device.id, **key, drbg_->rng());
  if (!csr) return std::unexpected(ca::ToBaseError(csr.error()));
  auto spki = (*key)->PublicKeyDer();
  if (!spki) return std::unexpected(ca::ToBaseError(spki.error()));
  job.new_key = std::move(*key);
  job.csr_key = job.new_key.get();
  exchange.csr_key = job.csr_key;
  exchange.csr_der = std::move(*csr);
  exchange.public_key = std::move(*spki);
  return exchange;
}

base::Result<void> Worker::PrepareDevices() {
  for (Device& device : devices_) {
    if (auto creds = DeviceCredentials(device); !creds) return std::unexpected(creds.error());
    auto key = ca::PrivateKey::GenerateP256(drbg_->rng());
    if (!key) return std::unexpected(ca::ToBaseError(key.error()));
    auto csr = BuildCsr(device.id, **key, drbg_->rng());
    if (!csr) return std::unexpected(ca::ToBaseError(csr.error()));
    auto spki = (*key)->PublicKeyDer();
    if (!spki) return std::unexpected(ca::ToBaseError(spki.error()));
    device.enrolled_key = std::move(*key);
    device.enrolled_csr = std::move(*csr);
    device.enrolled_spki = std::move(*spki);
  }
  return {};
}

// A client certificate for the device's id from `issuer` (the rogue CA, or the factory CA but
// expired), on the scratch key.
base::Result<Exchange> Worker::PrepareMinted(Job& job, const SigningCa& issuer,
                                             BootstrapKind kind) {
  auto cert = MintClientCert(job.device->id, kind, *scratch_key_->pk(), issuer,
                             static_cast<base::UnixTime>(std::time(nullptr)), drbg_->rng());
  if (!cert) return std::unexpected(ca::ToBaseError(cert.error()));
  job.minted = std::move(*cert);
  return Exchange{plan_.op,
                  job.device->id,
                  {job.minted->get(), scratch_key_->pk()},
                  placeholder_csr_,
                  placeholder_spki_};
}

base::Result<Credentials*> Worker::DeviceCredentials(Device& device) {
  if (!device.creds) {
    auto creds = LoadCredentials(plan_.fleet_dir, device.id, plan_.op, drbg_->rng());
    if (!creds) return std::unexpected(creds.error());
    device.creds = std::make_unique<Credentials>(std::move(*creds));
  }
  return device.creds.get();
}

// Returns false if the job went on to its replay stage, true once it is tallied and released.
bool Worker::OnJobDone(Job& job, Clock::time_point now) {
  Outcome outcome = job.enrollment->outcome();
  tally_.scenarios[Index(job.scenario)].retries += static_cast<uint64_t>(job.enrollment->retries());
  const bool issued = outcome.kind == OutcomeKind::kIssued;
  if (job.setup_stage) {
    if (!issued) {
      outcome = Outcome::Error("replay set-up enrollment: " + Describe(outcome));
    } else if (auto kept = Keep(job, false); !kept) {
      outcome = Outcome::Error("replay set-up enrollment: store: " + kept.error().detail);
    } else {
      ++tally_.replay_setups;
      job.setup_stage = false;
      auto launched = Launch(job, now);
      if (launched) return false;
      outcome = Outcome::Error("replay: " + launched.error().detail);
    }
  } else if (issued && job.scenario == Scenario::kGood) {
    if (auto kept = Keep(job, plan_.keep_for_replay); !kept) {
      outcome = Outcome::Error("store: " + kept.error().detail);
    }
  }
  Record(job, outcome);
  Release(job);
  return true;
}

// Writes the issued certificate and key to the device directory and keeps what later
// enrollments of the device need in memory.
base::Result<void> Worker::Keep(Job& job, bool offer_for_replay) {
  Device& device = *job.device;
  const Exchange& exchange = job.enrollment->exchange();
  const base::Bytes& leaf = job.enrollment->leaf();
  // serverkeygen: the key the server made is the device's (written 0600, as any key).
  const ca::PrivateKey* server_key = job.enrollment->server_key();
  const ca::PrivateKey& key = server_key != nullptr ? *server_key : *job.csr_key;
  if (auto stored = StoreOperational(plan_.fleet_dir, device.id, key, leaf); !stored) {
    return stored;
  }
  if (server_key != nullptr) return {};  // no CSR key is certified: nothing to replay or renew
  if (plan_.op == EstOperation::kReenroll) {
    auto cert = ca::ParseCertificates(AsText(leaf));
    if (plan_.cycle_devices && cert && job.new_key) {  // renew with the new identity next time
      device.creds =
          std::make_unique<Credentials>(Credentials{std::move(*cert), std::move(job.new_key)});
    }
    return {};
  }
  if (plan_.cycle_devices && job.new_key) {
    device.enrolled_csr = exchange.csr_der;
    device.enrolled_spki = exchange.public_key;
    device.enrolled_key = std::move(job.new_key);
    job.csr_key = device.enrolled_key.get();
  }
  if (offer_for_replay && !device.in_replay_pool) {
    device.in_replay_pool = true;
    replay_pool_.push_back(&device);
    if (replay_pool_.size() > kMaxReplayPool) {
      Device* old = replay_pool_.front();
      replay_pool_.pop_front();
      old->in_replay_pool = false;
      if (!old->busy && !plan_.cycle_devices) old->creds.reset();
    }
  }
  return {};
}

Worker::Device* Worker::TakeReplayTarget() {
  while (!replay_pool_.empty()) {
    Device* device = replay_pool_.front();
    replay_pool_.pop_front();
    device->in_replay_pool = false;
    if (!device->busy) return device;
  }
  return nullptr;
}

void Worker::Record(Job& job, const Outcome& outcome) {
  const size_t i = Index(job.scenario);
  ScenarioTally& tally = tally_.scenarios[i];
  const auto end = Clock::now();
  const auto start = job.started == Clock::time_point{} ? end : job.started;
  tally.latency.Add(std::chrono::duration<double, std::milli>(end - start).count());
  if (Meets(outcome, Expected(job.scenario, plan_.tls.version))) {
    ++tally.ok;
  } else {
    ++tally.failed;
    const std::string text = Describe(outcome);
    ++tally.unexpected[text];
    tally_.AddFailure({job.device->id, job.scenario, text}, plan_.max_failures_listed);
    shared_.failed[i].fetch_add(1);
  }
  shared_.done[i].fetch_add(1);
}

void Worker::Release(Job& job) {
  Device& device = *job.device;
  device.busy = false;
  if (!plan_.cycle_devices && !device.in_replay_pool) device.creds.reset();
  shared_.in_flight.fetch_sub(1);
}

}  // namespace devsim
