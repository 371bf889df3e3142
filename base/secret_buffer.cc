// secret_buffer.cc — SecretBuffer's pages: mapped privately, locked against swap where the process
// may, excluded from core dumps, zeroed (explicit_bzero) and unmapped when dropped.
#include "base/secret_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace base {
namespace {

size_t RoundToPages(size_t n) {
  const long page = ::sysconf(_SC_PAGESIZE);
  const size_t p = page > 0 ? static_cast<size_t>(page) : 4096;
  return (n + p - 1) / p * p;
}

}  // namespace

Result<SecretBuffer> SecretBuffer::Create(size_t capacity) {
  if (capacity == 0 || capacity > kMaxCapacity) {
    return Fail(Code::kInvalidArgument, "secret buffer of " + std::to_string(capacity) + " bytes");
  }
  const size_t mapped = RoundToPages(capacity);
  void* pages =
      ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (pages == MAP_FAILED) return Fail(Code::kIo, std::string("mmap: ") + std::strerror(errno));
  // mlock may fail (RLIMIT_MEMLOCK 0): not an error. MADV_DONTDUMP keeps them out of core dumps.
  (void)::mlock(pages, mapped);
  (void)::madvise(pages, mapped, MADV_DONTDUMP);
  SecretBuffer b;
  b.data_ = static_cast<unsigned char*>(pages);
  b.capacity_ = capacity;
  b.mapped_ = mapped;
  return b;
}

SecretBuffer::SecretBuffer(SecretBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      mapped_(std::exchange(other.mapped_, 0)) {}

SecretBuffer& SecretBuffer::operator=(SecretBuffer&& other) noexcept {
  if (this != &other) {
    Drop();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
  }
  return *this;
}

SecretBuffer::~SecretBuffer() { Drop(); }

void SecretBuffer::Wipe() {
  if (data_ != nullptr) ::explicit_bzero(data_, mapped_);
  size_ = 0;
}

void SecretBuffer::Drop() {
  if (data_ == nullptr) return;
  Wipe();
  (void)::munlock(data_, mapped_);
  ::munmap(data_, mapped_);
  data_ = nullptr;
  size_ = capacity_ = mapped_ = 0;
}

bool SecretBuffer::Append(const unsigned char* bytes, size_t n) {
  if (n > spare()) return false;
  if (n > 0) std::memcpy(data_ + size_, bytes, n);
  size_ += n;
  return true;
}

bool SecretBuffer::Append(std::string_view bytes) {
  return Append(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

bool SecretBuffer::Commit(size_t n) {
  if (n > spare()) return false;
  size_ += n;
  return true;
}

}  // namespace base
