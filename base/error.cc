// error.cc — names of base::Code for logs and messages.
#include "base/error.h"

namespace base {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
      return "invalid_argument";
    case Code::kIo:
      return "io";
    case Code::kInternal:
      return "internal";
    case Code::kMalformed:
      return "malformed";
  }
  return "unknown";
}

}  // namespace base
