// post_queue.h — a worker's inbox. Other threads (the database writer) post closures; the worker
// runs them on its own thread when its epoll loop sees the eventfd. This is how an issuance that
// waited for a group commit comes back to the connection that asked for it.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <functional>
#include <mutex>
#include <vector>

namespace provisiond {

class PostQueue {
 public:
  PostQueue() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~PostQueue() { ::close(fd_); }
  PostQueue(const PostQueue&) = delete;
  PostQueue& operator=(const PostQueue&) = delete;

  int fd() const { return fd_; }

  // Thread-safe. fn runs later on the owning worker's thread.
  void Post(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(fn));
    }
    uint64_t one = 1;
    ssize_t ignored = ::write(fd_, &one, sizeof one);
    (void)ignored;
  }

  // Owning worker's thread only: runs everything posted so far.
  void RunAll() {
    uint64_t count;
    ssize_t ignored = ::read(fd_, &count, sizeof count);
    (void)ignored;
    std::vector<std::function<void()>> batch;
    {
      std::lock_guard lock(mu_);
      batch.swap(queue_);
    }
    for (auto& fn : batch) fn();
  }

 private:
  int fd_;
  std::mutex mu_;
  std::vector<std::function<void()>> queue_;
};

}  // namespace provisiond
