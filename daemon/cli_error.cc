// cli_error.cc — a command's one-line failure on stderr (see cli_error.h).
#include "daemon/cli_error.h"

#include <cstdio>

namespace provisiond::cli {

int Error(const std::string& what) {
  std::fprintf(stderr, "provisiond: %s\n", what.c_str());
  return 1;
}

int Error(std::string_view command, const std::string& what) {
  std::fprintf(stderr, "provisiond: %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               what.c_str());
  return 1;
}

}  // namespace provisiond::cli
