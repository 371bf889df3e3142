// error.h — the one error mechanism of the project: a closed code plus a detail for the log,
// carried in std::expected (no exception crosses an API). Modules with their own closed codes (ca,
// db) use ErrorOf<TheirCode>; everything general (files, sockets, system calls) uses base::Error.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace base {

// General failures, not tied to a domain. Closed and small on purpose: callers decide by code.
enum class Code {
  kInvalidArgument,  // the caller passed something unusable (an option, an address, a file)
  kIo,               // a file, socket or system call failed; detail names the call and errno's text
  kInternal,         // a library failed for no fault of the input (an RNG, a signing operation)
  kMalformed,        // bytes from a peer or a file do not parse (HTTP; PKI formats are ca::Code's)
};

template <typename C>
struct ErrorOf {
  C code;
  std::string detail;  // for the log; never sent to a device verbatim
};

using Error = ErrorOf<Code>;

template <typename T, typename E = Error>
using Result = std::expected<T, E>;

// return Fail(Code::kIo, "open " + path + ": " + std::strerror(errno));
template <typename C>
std::unexpected<ErrorOf<C>> Fail(C code, std::string detail) {
  return std::unexpected(ErrorOf<C>{code, std::move(detail)});
}

// "invalid_argument", "io": stable names for logs and messages.
const char* CodeName(Code code);

}  // namespace base
