// post_queue.h — a worker's inbox. Other threads (the database writer) post closures; the worker
// runs them on its own thread when its epoll loop sees the eventfd. This is how an issuance that
// waited for a group commit comes back to the connection that asked for it.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"

namespace provisiond {

class PostQueue {
 public:
  // A queue with its eventfd. kIo naming eventfd and errno if it cannot be made (out of fds).
  static base::Result<std::unique_ptr<PostQueue>> Create() {
    base::UniqueFd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!fd) return base::Fail(base::Code::kIo, std::string("eventfd: ") + std::strerror(errno));
    return std::unique_ptr<PostQueue>(new PostQueue(std::move(fd)));
  }
  PostQueue(const PostQueue&) = delete;
  PostQueue& operator=(const PostQueue&) = delete;

  int fd() const { return fd_.get(); }

  // Thread-safe. fn runs later on the owning worker's thread.
  void Post(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(fn));
    }
    uint64_t one = 1;
    ssize_t ignored = ::write(fd_.get(), &one, sizeof one);
    (void)ignored;
  }

  // Owning worker's thread only: runs everything posted so far.
  void RunAll() {
    uint64_t count;
    ssize_t ignored = ::read(fd_.get(), &count, sizeof count);
    (void)ignored;
    std::vector<std::function<void()>> batch;
    {
      std::lock_guard lock(mu_);
      batch.swap(queue_);
    }
    for (auto& fn : batch) fn();
  }

 private:
  explicit PostQueue(base::UniqueFd fd) : fd_(std::move(fd)) {}

  base::UniqueFd fd_;
  std::mutex mu_;
  std::vector<std::function<void()>> queue_;
};

}  // namespace provisiond
