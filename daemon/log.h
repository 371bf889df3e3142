// log.h — one line per event on stderr: "<N>event key=value ...", the sd-daemon priority prefix
// that journald understands. Values are quoted and escaped when needed, so a device-controlled
// string (a subject, a CN with CR/LF/ESC) can never forge a second line or a field.
//
// The "<N>" prefix is written whether or not stderr is the journal. Under systemd
// (StandardError=journal) journald turns it into PRIORITY= and strips it; anywhere else the
// prefix is the only place the priority lives, and the consumers we know of want it: the tests
// grep "^<4>handshake_failed", `systemd-cat` and s6/runit log pipelines understand it, and a
// human reader can drop it with `sed 's/^<[0-7]>//'`. StderrIsJournal() is only reported (in the
// start-up line), never used to change the format, so what a test sees is what the journal gets.
#pragma once

#include <sys/types.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace provisiond {

enum class Priority { kErr = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

// Lines with a priority number above this are dropped. Thread-safe: SIGHUP may change it while
// workers log.
void SetLogLevel(Priority max);
Priority LogLevel();

// "err", "warning", "notice", "info", "debug" -> the priority; nullopt for anything else.
std::optional<Priority> ParseLogLevel(std::string_view name);
const char* LogLevelName(Priority priority);

// True if stderr is the journal's stream socket: systemd sets JOURNAL_STREAM="DEV:INO" to the
// device and inode of the stream it connected to stderr (systemd.exec(5)).
bool StderrIsJournal();
// The comparison behind StderrIsJournal, on values (testable without systemd).
bool MatchesJournalStream(const char* journal_stream, dev_t dev, ino_t ino);

using Field = std::pair<std::string_view, std::string_view>;

// Writes "<N>event k1=v1 k2=v2\n" with a single write(2), so lines from workers never interleave.
void Log(Priority priority, std::string_view event, std::initializer_list<Field> fields = {});

// The escaped form Log uses for a value: bare if it is non-empty printable ASCII without space,
// quote, backslash or '='; otherwise "..." with \" \\ \n \r \t and \xHH for other bytes.
std::string EscapeLogValue(std::string_view value);

}  // namespace provisiond
