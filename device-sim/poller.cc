// poller.cc — epoll_create1/epoll_ctl/epoll_wait for poller.h.
#include "device-sim/poller.h"

#include <sys/epoll.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace devsim {

base::Result<std::unique_ptr<Poller>> Poller::Create() {
  std::unique_ptr<Poller> poller(new Poller());
  poller->epoll_ = base::UniqueFd(epoll_create1(EPOLL_CLOEXEC));
  if (poller->epoll_.get() < 0) {
    return base::Fail(base::Code::kIo, std::string("epoll_create1: ") + std::strerror(errno));
  }
  return poller;
}

base::Result<void> Poller::Watch(int fd, EventTarget* target) {
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  event.data.ptr = target;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
    return base::Fail(base::Code::kIo, std::string("epoll_ctl: ") + std::strerror(errno));
  }
  return {};
}

int Poller::Dispatch(int timeout_ms) {
  std::array<epoll_event, 256> events;
  const int n =
      epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
  if (n <= 0) return 0;  // timeout, or EINTR from a signal
  for (int i = 0; i < n; ++i) {
    static_cast<EventTarget*>(events[i].data.ptr)->OnReady(events[i].events);
  }
  return n;
}

}  // namespace devsim
