// worker.h — one event-loop thread of a fleet run. It owns a share of the devices (selection index
// i with i % threads == its index), its own DRBG, parsed trust bundle, CAs and keys (mbedTLS
// contexts are not thread-safe), one epoll set, and keeps up to its share of --concurrency
// enrollments in flight, each an Enrollment state machine. Slots (the global enrollment count and
// the scenario class of each) come from SharedRun, so the mix holds across threads.
//
// A device is busy while one of its enrollments runs; it is never in two at once. Its parsed
// credentials are loaded on first use and kept only while it may be used again (devices cycle,
// or it waits in the replay pool).
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "ca/cert.h"
#include "ca/keys.h"
#include "ca/rng.h"
#include "device-sim/bad_actors.h"
#include "device-sim/credentials.h"
#include "device-sim/enrollment.h"
#include "device-sim/poller.h"
#include "device-sim/run_plan.h"
#include "device-sim/tally.h"

namespace devsim {

class Worker {
 public:
  // Builds the thread's PKI and epoll set (kInternal/kMalformed/kIo on failure). Call from any
  // thread; afterwards only the thread that calls Run may touch the worker.
  static base::Result<std::unique_ptr<Worker>> Create(SharedRun& shared, int index);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs until this worker can start nothing more and has no enrollment left in flight.
  void Run();
  RunTally& tally() { return tally_; }
  // --prepare-keys: loads every device's credentials and makes its key, CSR and SPKI now (before
  // the clock starts), so that enrolling sends them as the first enrollment's.
  base::Result<void> PrepareDevices();

 private:
  struct Device {
    std::string id;
    bool busy = false;
    bool in_replay_pool = false;
    std::unique_ptr<Credentials> creds;  // bootstrap (enroll) or operational (reenroll)
    // enroll with devices cycling: the key and CSR of this run's first enrollment, re-sent on
    // later ones (the server answers the same key with the same certificate); with
    // --prepare-keys, made before the clock starts and sent on the first one.
    std::unique_ptr<ca::PrivateKey> enrolled_key;
    base::Bytes enrolled_csr;
    base::Bytes enrolled_spki;
  };
  struct Job {
    uint64_t slot = 0;
    Scenario scenario = Scenario::kGood;
    Device* device = nullptr;
    Clock::time_point started{};
    bool setup_stage = false;                 // replay: the normal enrollment before the replay
    std::unique_ptr<ca::CrtChain> minted;     // rogue-ca / expired client certificate
    std::unique_ptr<ca::PrivateKey> new_key;  // the CSR's key, if fresh
    ca::PrivateKey* csr_key = nullptr;        // new_key or device->enrolled_key
    std::unique_ptr<Enrollment> enrollment;
  };

  Worker(SharedRun& shared, int index);
  base::Result<void> Init();

  // worker.cc: the loop
  bool CanStart() const;
  void StartMore(Clock::time_point now);
  Device* PeekDevice();
  int TimeoutMs(Clock::time_point now) const;
  void Sweep(Clock::time_point now);
  bool Reap();

  // worker_jobs.cc: one enrollment's preparation and completion
  void StartJob(uint64_t slot, Scenario scenario, Device& device, Clock::time_point now);
  base::Result<void> Launch(Job& job, Clock::time_point now);
  base::Result<Exchange> Prepare(Job& job);
  base::Result<Exchange> PrepareDeviceExchange(Job& job, bool fresh_key);
  base::Result<Exchange> PrepareMinted(Job& job, const SigningCa& issuer, BootstrapKind kind);
  base::Result<Credentials*> DeviceCredentials(Device& device);
  bool OnJobDone(Job& job, Clock::time_point now);
  base::Result<void> Keep(Job& job, bool offer_for_replay);
  Device* TakeReplayTarget();
  void Record(Job& job, const Outcome& outcome);
  void Release(Job& job);

  SharedRun& shared_;
  const RunPlan& plan_;
  const int index_;
  int concurrency_ = 1;

  std::unique_ptr<ca::Drbg> drbg_;
  std::unique_ptr<ca::CrtChain> trust_;
  std::optional<SigningCa> rogue_ca_;
  std::optional<SigningCa> factory_ca_;
  // Subject key of minted rogue/expired certificates and key of broken CSRs: bad actors need no
  // fresh key each.
  std::unique_ptr<ca::PrivateKey> scratch_key_;
  // A valid CSR for scenarios refused before any POST (rogue-ca, no-cert, expired).
  base::Bytes placeholder_csr_;
  base::Bytes placeholder_spki_;
  std::unique_ptr<Poller> poller_;
  ServerCertCache server_cert_cache_;
  std::minstd_rand jitter_;
  EnrollEnv env_{};

  std::vector<Device> devices_;
  size_t cursor_ = 0;        // next device to visit
  size_t peeked_ = 0;        // the device PeekDevice found
  bool exhausted_ = false;   // no device left to start (devices do not cycle)
  bool slots_done_ = false;  // SharedRun handed out every slot
  std::optional<Clock::time_point> token_wait_until_;
  Clock::time_point last_sweep_{};
  std::vector<std::unique_ptr<Job>> jobs_;
  std::deque<Device*> replay_pool_;

  RunTally tally_;
};

}  // namespace devsim
