// log.cc — the journal-friendly logger (see log.h).
#include "daemon/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>

namespace provisiond {
namespace {

std::atomic<int> g_max_priority{static_cast<int>(Priority::kInfo)};

bool NeedsQuoting(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '=') return true;
  }
  return false;
}

}  // namespace

void SetLogLevel(Priority max) { g_max_priority = static_cast<int>(max); }

Priority LogLevel() { return static_cast<Priority>(g_max_priority.load()); }

std::optional<Priority> ParseLogLevel(std::string_view name) {
  for (Priority p : {Priority::kErr, Priority::kWarning, Priority::kNotice, Priority::kInfo,
                     Priority::kDebug}) {
    if (name == LogLevelName(p)) return p;
  }
  return std::nullopt;
}

const char* LogLevelName(Priority priority) {
  switch (priority) {
    case Priority::kErr: return "err";
    case Priority::kWarning: return "warning";
    case Priority::kNotice: return "notice";
    case Priority::kInfo: return "info";
    case Priority::kDebug: return "debug";
  }
  return "info";
}

bool MatchesJournalStream(const char* journal_stream, dev_t dev, ino_t ino) {
  if (journal_stream == nullptr) return false;
  uintmax_t want_dev = 0, want_ino = 0;
  char extra = 0;
  if (std::sscanf(journal_stream, "%ju:%ju%c", &want_dev, &want_ino, &extra) != 2) return false;
  return want_dev == static_cast<uintmax_t>(dev) && want_ino == static_cast<uintmax_t>(ino);
}

bool StderrIsJournal() {
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return MatchesJournalStream(std::getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino);
}

std::string EscapeLogValue(std::string_view value) {
  if (!NeedsQuoting(value)) return std::string(value);
  std::string out = "\"";
  for (unsigned char c : value) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char hex[5];
          std::snprintf(hex, sizeof hex, "\\x%02x", c);
          out += hex;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

void Log(Priority priority, std::string_view event, std::initializer_list<Field> fields) {
  if (static_cast<int>(priority) > g_max_priority.load(std::memory_order_relaxed)) return;
  std::string line = "<" + std::to_string(static_cast<int>(priority)) + ">";
  line += event;
  for (const auto& [key, value] : fields) {
    line += ' ';
    line += key;
    line += '=';
    line += EscapeLogValue(value);
  }
  line += '\n';
  // One write per line: atomic for pipes and the journal's stream socket up to PIPE_BUF.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace provisiond
