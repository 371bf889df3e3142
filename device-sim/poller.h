// poller.h — a thin epoll wrapper for one event-loop thread: edge-triggered readiness delivered
// to objects implementing EventTarget.
#pragma once

#include <cstdint>
#include <memory>

#include "base/error.h"
#include "device-sim/socket_util.h"

namespace devsim {

class EventTarget {
 public:
  virtual ~EventTarget() = default;
  // The fd this target watches became readable, writable or hung up (EPOLL* bits). The target
  // drives itself until it would block; it must not destroy itself here (its owner reaps it).
  virtual void OnReady(uint32_t events) = 0;
};

class Poller {
 public:
  // kIo if epoll_create1 fails.
  static base::Result<std::unique_ptr<Poller>> Create();

  // Watches fd for input, output and hang-up, edge-triggered. Closing fd removes it. kIo on error.
  base::Result<void> Watch(int fd, EventTarget* target);

  // Waits up to timeout_ms (-1: forever) and calls OnReady for each event. Returns the number of
  // events dispatched (0 on timeout or EINTR).
  int Dispatch(int timeout_ms);

 private:
  Poller() = default;
  base::UniqueFd epoll_;
};

}  // namespace devsim
