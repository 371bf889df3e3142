// types.h — small value types shared by every module: byte buffers and time.
#pragma once

#include <cstdint>
#include <vector>

namespace base {

using Bytes = std::vector<unsigned char>;
// Seconds since the Unix epoch, UTC. ca/ never reads a clock: callers pass the time in.
using UnixTime = std::int64_t;

}  // namespace base
