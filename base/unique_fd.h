// unique_fd.h — move-only owner of a file descriptor: closes it exactly once, in the destructor or
// in reset(). No fd in the program is closed by hand.
#pragma once

namespace base {

class UniqueFd {
 public:
  UniqueFd() = default;
  // Takes ownership of fd (-1 for none).
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  // Gives the fd up without closing it; the caller owns it now.
  [[nodiscard]] int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes the fd held (if any) and takes fd. close() errors are ignored: on Linux the fd is
  // released even when close() fails, EINTR included, so a retry could close a descriptor another
  // thread has just been given. A caller that must know its writes reached the disk calls fsync()
  // (and checks it) before letting go.
  void reset(int fd = -1);
  // Closes the fd now (for writers that want close()'s verdict): true if there was none or it
  // closed cleanly; false with errno set if close() failed. Released either way (see reset()).
  [[nodiscard]] bool Close();

 private:
  int fd_ = -1;
};

}  // namespace base
