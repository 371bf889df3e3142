// secret.cc — Secret's page: mmap'ed privately, mlock'ed where allowed, left out of core dumps,
// zeroed and unmapped when dropped. The one place a PIN's bytes live.
#include "base/secret.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "base/unique_fd.h"

namespace base {
namespace {

size_t PageBytes() {
  const long page = ::sysconf(_SC_PAGESIZE);
  return page > 0 ? static_cast<size_t>(page) : 4096;
}

// A fresh private page, locked against swap where the process may (mlock failing is not an error:
// RLIMIT_MEMLOCK may be 0) and excluded from core dumps. Null with errno set on failure.
unsigned char* MapPage() {
  void* page =
      ::mmap(nullptr, PageBytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return nullptr;
  (void)::mlock(page, PageBytes());
  (void)::madvise(page, PageBytes(), MADV_DONTDUMP);
  return static_cast<unsigned char*>(page);
}

void DropPage(unsigned char* page) {
  if (page == nullptr) return;
  ::explicit_bzero(page, PageBytes());
  (void)::munlock(page, PageBytes());
  ::munmap(page, PageBytes());
}

// Owns a page until it is handed to a Secret, so every early return zeroes and unmaps it.
class PageOwner {
 public:
  explicit PageOwner(unsigned char* page) : page_(page) {}
  ~PageOwner() { DropPage(page_); }
  PageOwner(const PageOwner&) = delete;
  PageOwner& operator=(const PageOwner&) = delete;
  unsigned char* get() const { return page_; }
  unsigned char* release() { return std::exchange(page_, nullptr); }

 private:
  unsigned char* page_;
};

}  // namespace

Result<Secret> Secret::From(std::string_view value) {
  if (value.size() > kMaxBytes) {
    return Fail(Code::kInvalidArgument,
                "secret longer than " + std::to_string(kMaxBytes) + " bytes");
  }
  PageOwner page(MapPage());
  if (page.get() == nullptr) return Fail(Code::kIo, std::string("mmap: ") + std::strerror(errno));
  std::memcpy(page.get(), value.data(), value.size());
  Secret secret;
  secret.size_ = value.size();
  secret.data_ = page.release();
  return secret;
}

Result<Secret> Secret::ReadFile(const char* path) {
  const std::string where = std::string("secret file ") + path;
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) return Fail(Code::kIo, "open " + where + ": " + std::strerror(errno));
  PageOwner page(MapPage());
  if (page.get() == nullptr) return Fail(Code::kIo, std::string("mmap: ") + std::strerror(errno));
  // Read one byte past the limit so a longer file is refused rather than cut.
  size_t size = 0;
  while (size <= kMaxBytes) {
    const ssize_t n = ::read(fd.get(), page.get() + size, kMaxBytes + 1 - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(Code::kIo, "read " + where + ": " + std::strerror(errno));
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  if (size > kMaxBytes) {
    return Fail(Code::kIo, where + ": longer than " + std::to_string(kMaxBytes) + " bytes");
  }
  if (size > 0 && page.get()[size - 1] == '\n') {
    page.get()[--size] = 0;
    if (size > 0 && page.get()[size - 1] == '\r') page.get()[--size] = 0;
  }
  if (size == 0) return Fail(Code::kIo, where + ": empty");
  Secret secret;
  secret.size_ = size;
  secret.data_ = page.release();
  return secret;
}

Secret::Secret(Secret&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    DropPage(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Secret::~Secret() { DropPage(data_); }

}  // namespace base
