// cli_checks.cc — validators for command-line and config-file values (see cli_checks.h).
#include "daemon/cli_checks.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "daemon/authority/rate_limiter.h"
#include "daemon/cidr.h"
#include "daemon/net.h"

namespace provisiond {
namespace {

// "" if `path` exists, is of the wanted kind and grants `access_mode`; else why not.
std::string CheckPath(const std::string& path, bool want_dir, bool any_kind, int access_mode) {
  if (path.empty()) return "empty path";
  if (path.size() > kMaxOptionText) return "path longer than " + std::to_string(kMaxOptionText);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return path + ": " + std::strerror(errno);
  const bool is_dir = S_ISDIR(st.st_mode);
  if (!any_kind && want_dir && !is_dir) return path + ": not a directory";
  if (!any_kind && !want_dir && !S_ISREG(st.st_mode)) {
    return path + (is_dir ? ": is a directory, want a file" : ": not a regular file");
  }
  if (::access(path.c_str(), access_mode) != 0) return path + ": " + std::strerror(errno);
  return "";
}

std::string Parent(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

CLI::Validator ListenAddress(bool bare_port) {
  return CLI::Validator(
      [bare_port](std::string& value) -> std::string {
        if (value.empty()) return "empty address (want ADDR:PORT, e.g. 127.0.0.1:8443)";
        if (!bare_port && value.find(':') == std::string::npos) {
          return "want ADDR:PORT, got '" + value + "'";
        }
        auto r = CheckListenAddress(value);
        return r ? "" : r.error().detail;
      },
      bare_port ? "[ADDR:]PORT" : "ADDR:PORT");
}

CLI::Validator DurationText() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        auto r = ParseDuration(value);
        return r ? "" : r.error().detail;
      },
      "DURATION");
}

CLI::Validator RateText() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        auto r = ParseRateSpec(value);
        return r ? "" : r.error().detail;
      },
      "N/PERIOD");
}

CLI::Validator CidrText() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        auto r = ParseCidr(value);
        return r ? "" : r.error().detail;
      },
      "CIDR");
}

CLI::Validator NonEmptyText() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (value.empty()) return "empty value";
        if (value.size() > kMaxOptionText) {
          return std::to_string(value.size()) + " bytes, at most " +
                 std::to_string(kMaxOptionText);
        }
        return "";
      },
      "TEXT");
}

CLI::Validator NewOrExistingDirectory() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (value.empty()) return "empty path";
        if (value.size() > kMaxOptionText) {
          return "path longer than " + std::to_string(kMaxOptionText);
        }
        struct stat st {};
        if (::stat(value.c_str(), &st) == 0) {
          if (!S_ISDIR(st.st_mode)) return value + ": exists and is not a directory";
          return CheckPath(value, true, false, R_OK | W_OK | X_OK);
        }
        if (errno != ENOENT) return value + ": " + std::strerror(errno);
        return CheckPath(Parent(value), true, false, W_OK | X_OK);
      },
      "DIR");
}

CLI::Validator ReadableDirectory() {
  return CLI::Validator(
      [](std::string& value) { return CheckPath(value, true, false, R_OK | X_OK); }, "DIR");
}

CLI::Validator ReadableFile() {
  return CLI::Validator([](std::string& value) { return CheckPath(value, false, false, R_OK); },
                        "FILE");
}

CLI::Validator WritableFilePath() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (value.empty()) return "empty path";
        struct stat st {};
        if (::stat(value.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
          return value + ": is a directory, want a file";
        }
        return CheckPath(Parent(value), true, false, W_OK | X_OK);
      },
      "FILE");
}

void AddStoreOptions(CLI::App* cmd, StoreOptions& options) {
  cmd->add_option("--store", options.url,
                  "the database: sqlite:PATH (default: provisiond.db in the state directory) or "
                  "a libpq URI postgresql://USER@HOST:PORT/DB?... (never with a password in it)");
  cmd->add_option("--store-password-file", options.password_file,
                  "PostgreSQL: a file holding the password (mode 0600, owned by this user); "
                  "libpq's passfile= and PGPASSFILE work too");
}

void AddCaKeyOptions(CLI::App* cmd, CaKeyOptions& options) {
  cmd->add_option("--ca-key-uri", options.uri,
                  "the CA key in a PKCS#11 token (RFC 7512 URI with pin-source=file:/path); "
                  "default: what the state directory records");
  cmd->add_flag("--allow-pin-value", options.allow_pin_value,
                "accept a --ca-key-uri that carries pin-value (the PIN is then readable where "
                "the URI is written)");
}

std::string ServePathProblem(const ServeConfig& config) {
  if (auto why = CheckPath(config.state_dir, true, false, R_OK | X_OK); !why.empty()) {
    return "--state-dir: " + why;
  }
  for (const auto& path : config.trust_paths) {
    if (auto why = CheckPath(path, false, true, R_OK); !why.empty()) return "--trust: " + why;
  }
  return "";
}

namespace {

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// "://user:SECRET@" -> "://user:***@": the password runs to the last '@' before white space.
std::string WithoutUserinfoPasswords(const std::string& text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t scheme_end = text.find("://", i);
    if (scheme_end == std::string::npos) {
      out.append(text, i, std::string::npos);
      break;
    }
    const size_t user = scheme_end + 3;
    out.append(text, i, user - i);
    size_t colon = user;
    while (colon < text.size() && text[colon] != '/' && text[colon] != '@' &&
           text[colon] != ':' && !IsSpace(text[colon])) {
      ++colon;
    }
    size_t last_at = std::string::npos;
    if (colon < text.size() && text[colon] == ':') {
      for (size_t j = colon + 1; j < text.size() && !IsSpace(text[j]); ++j) {
        if (text[j] == '@') last_at = j;
      }
    }
    if (last_at == std::string::npos) {
      i = user;
      continue;
    }
    out.append(text, user, colon + 1 - user);
    out += "***";
    i = last_at;
  }
  return out;
}

// "password=SECRET" (any case, also sslpassword=) -> "password=***", up to '&', '\'' or space.
std::string WithoutKeywordPasswords(const std::string& text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::string_view kKey = "password=";
  std::string out;
  size_t i = 0;
  for (;;) {
    const size_t key = lower.find(kKey, i);
    if (key == std::string::npos) {
      out.append(text, i, std::string::npos);
      return out;
    }
    size_t value = key + kKey.size();
    out.append(text, i, value - i);
    out += "***";
    while (value < text.size() && text[value] != '&' && text[value] != '\'' &&
           !IsSpace(text[value])) {
      ++value;
    }
    i = value;
  }
}

}  // namespace

std::string WithoutPasswords(std::string text) {
  // user:password@ after "://", and password=VALUE (libpq keyword or URI parameter). By hand,
  // not std::regex (GCC 12 warns inside <regex> under the sanitizers' -O levels with -Werror).
  return WithoutKeywordPasswords(WithoutUserinfoPasswords(text));
}

std::string OneLineFailure(const CLI::App* /*app*/, const CLI::Error& e) {
  std::string what = WithoutPasswords(e.what());
  for (char& c : what) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return "provisiond: " + what + " (see --help)\n";
}

}  // namespace provisiond
