// secret.h — a secret (a token PIN) held in memory that is locked against swap, left out of core
// dumps and zeroed when dropped. Move-only; never printed.
#pragma once

#include <cstddef>
#include <string_view>

#include "base/error.h"

namespace base {

class Secret {
 public:
  Secret() = default;
  // Copies value into a page of its own (mmap, mlock where allowed, MADV_DONTDUMP). kInvalidArgument
  // if value is longer than kMaxBytes, kIo if the page cannot be mapped.
  static Result<Secret> From(std::string_view value);
  // Reads a secret file: at most kMaxBytes, one trailing "\n" or "\r\n" dropped, refused when
  // empty. The file's bytes pass through no std::string. kIo naming the path (never the content).
  static Result<Secret> ReadFile(const char* path);

  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret();

  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  static constexpr size_t kMaxBytes = 256;

 private:
  unsigned char* data_ = nullptr;  // start of a private page, or null
  size_t size_ = 0;
};

}  // namespace base
