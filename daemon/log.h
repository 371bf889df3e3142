// log.h — one line per event on stderr: "<N>event key=value ...", the sd-daemon priority prefix
// that journald understands. Values are quoted and escaped when needed, so a device-controlled
// string (a subject, a CN with CR/LF/ESC) can never forge a second line or a field.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace provisiond {

enum class Priority { kErr = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

// Lines with a priority number above this are dropped. Set once in main, before threads start.
void SetLogLevel(Priority max);

using Field = std::pair<std::string_view, std::string_view>;

// Writes "<N>event k1=v1 k2=v2\n" with a single write(2), so lines from workers never interleave.
void Log(Priority priority, std::string_view event, std::initializer_list<Field> fields = {});

// The escaped form Log uses for a value: bare if it is non-empty printable ASCII without space,
// quote, backslash or '='; otherwise "..." with \" \\ \n \r \t and \xHH for other bytes.
std::string EscapeLogValue(std::string_view value);

}  // namespace provisiond
