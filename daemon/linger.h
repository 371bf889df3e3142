// linger.h — the lingering close shared by the EST connections (connection_linger.cc) and the
// plain-HTTP side listeners (side_http.cc): after answering a request it did not read to its end,
// the server shuts its write side (the client sees EOF after the answer) and reads and discards,
// unparsed, what the client still sends, until the client's EOF, kLingerMaxBytes or kLingerTime;
// then it closes. Closing with unread input would send a TCP RST instead, which fails the client's
// send and can discard the answer before the client reads it.
#pragma once

#include <chrono>
#include <cstddef>

namespace provisiond {

// The bounds of one lingering close: bytes discarded, and time (each user also caps the time by
// its own deadline: the request timeout, the side listener's deadline).
inline constexpr std::chrono::milliseconds kLingerTime{2000};
inline constexpr size_t kLingerMaxBytes = 1024 * 1024;

// The discarding half of a lingering close, for one non-blocking socket whose write side is shut.
class LingerDrain {
 public:
  // Reads what the socket holds now and discards it. true: nothing more for now (wait for input;
  // the caller's deadline runs); false: done, close the socket (the client's EOF, an error, or
  // more than kLingerMaxBytes discarded in all, even with input still unread).
  bool Read(int fd);
  size_t discarded() const { return discarded_; }

 private:
  size_t discarded_ = 0;
};

}  // namespace provisiond
