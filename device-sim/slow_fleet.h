// slow_fleet.h — the --slow connections on an event-loop thread of their own. A slowloris is
// somebody else's machine: on its own thread its handshakes (header mode) never hold up the good
// devices' event loops, and only compete with them for the CPU, through the kernel's scheduler.
// The run opens them first and starts the fleet once they are all open (WaitOpen), so the good
// devices meet the slowloris in its steady state, reconnects included, not its opening burst.
// The thread runs at --slow-nice (19 by default): on one machine, the attacker's client-side
// crypto would otherwise take CPU from the good devices and the server, which a real attacker's
// own machine does not.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "base/error.h"
#include "ca/cert.h"
#include "ca/rng.h"
#include "device-sim/credentials.h"
#include "device-sim/poller.h"
#include "device-sim/run_plan.h"
#include "device-sim/slow_client.h"
#include "device-sim/tally.h"

namespace devsim {

class SlowFleet {
 public:
  // plan.slow connections; connection j trickles a ClientHello if j is even, a header if odd.
  // Header mode presents the bootstrap certificate of the plan's first device (a handshake alone
  // issues nothing). kInternal/kMalformed/kIo on set-up failure.
  static base::Result<std::unique_ptr<SlowFleet>> Create(const RunPlan& plan);
  SlowFleet(const SlowFleet&) = delete;
  SlowFleet& operator=(const SlowFleet&) = delete;
  ~SlowFleet();  // stops the thread if Stop was not called

  // Starts the thread, which opens every connection and keeps reopening those the server closes.
  void Start();
  // Waits until every connection is open (connected; header mode: handshake done) or `limit`
  // passed. Returns how many were open.
  int WaitOpen(Clock::duration limit) const;
  // Stops reopening, closes the connections (counting those still open) and joins the thread.
  void Stop();
  // After Stop.
  std::array<SlowTally, kSlowModes>& tally() { return tally_; }

 private:
  explicit SlowFleet(const RunPlan& plan) : plan_(plan) {}
  base::Result<void> Init();
  void Run();

  const RunPlan& plan_;
  std::unique_ptr<ca::Drbg> drbg_;
  std::unique_ptr<ca::CrtChain> trust_;
  std::unique_ptr<Credentials> creds_;
  std::unique_ptr<Poller> poller_;
  ServerCertCache server_cert_cache_;
  std::unique_ptr<SlowEnv> env_;
  std::vector<std::unique_ptr<SlowConnection>> connections_;
  std::array<SlowTally, kSlowModes> tally_;
  std::atomic<int> open_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace devsim
