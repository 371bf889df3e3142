// secret_buffer.h — a bounded byte buffer for key material that must leave no copy behind: its own
// pages (mmap, mlock where allowed, MADV_DONTDUMP), never reallocated, zeroed when dropped.
#pragma once

#include <cstddef>
#include <string_view>

#include "base/error.h"

namespace base {

class SecretBuffer {
 public:
  SecretBuffer() = default;
  // An empty buffer that holds up to `capacity` bytes (1 .. kMaxCapacity; kInvalidArgument
  // otherwise, kIo if the pages cannot be mapped).
  static Result<SecretBuffer> Create(size_t capacity);

  SecretBuffer(SecretBuffer&& other) noexcept;
  SecretBuffer& operator=(SecretBuffer&& other) noexcept;
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;
  ~SecretBuffer();  // zeroes every byte of its pages, then unmaps them

  // Appends; false (and nothing appended) if it would exceed the capacity.
  bool Append(std::string_view bytes);
  bool Append(const unsigned char* bytes, size_t n);
  // The bytes past size(), for a writer that fills them in place; Commit(n) then counts n of them
  // (false if n > spare()).
  unsigned char* tail() { return data_ + size_; }
  size_t spare() const { return capacity_ - size_; }
  bool Commit(size_t n);
  // Zeroes every byte of the pages (explicit_bzero) and empties the buffer; the pages stay mapped.
  void Wipe();

  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(data_), size_};
  }

  static constexpr size_t kMaxCapacity = 1 << 20;

 private:
  void Drop();
  unsigned char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
  size_t mapped_ = 0;  // whole pages
};

}  // namespace base
