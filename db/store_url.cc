// store_url.cc — ParseStoreUrl: the --store text to a SQLite path or a libpq conninfo (see
// store_url.h). The password checks run on the raw text before libpq parses it, because some of
// libpq's parse errors repeat the part of the URI they could not read.
#include "db/store_url.h"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>

namespace db {
namespace {

constexpr std::string_view kSqlite = "sqlite:";
constexpr std::string_view kPostgresql = "postgresql://";
constexpr std::string_view kPostgres = "postgres://";
// The settings a label shows, in this order: where the database is, nothing about who connects.
constexpr std::array<std::string_view, 4> kLabelKeywords = {"host", "hostaddr", "port", "dbname"};

base::Error Invalid(const std::string& what) { return {base::Code::kInvalidArgument, what}; }

base::Error PasswordRefused() {
  return Invalid(
      "a password inside the URI is refused (it would show in ps, shell history and config "
      "files); name a file holding it with --store-password-file, or use libpq's passfile= "
      "parameter or PGPASSFILE");
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded; a malformed escape is kept as it is (libpq then refuses the URI).
std::string PercentDecoded(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool IsPasswordKey(std::string_view key) {
  std::string k = PercentDecoded(key);
  std::transform(k.begin(), k.end(), k.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return k == "password";
}

// `rest`: the URI after "scheme://". libpq reads user[:password]@ up to the first '@' that
// comes before any '/', and parameters after the first '?'.
bool HasPassword(std::string_view rest) {
  std::string_view head = rest.substr(0, rest.find('/'));
  if (size_t at = head.find('@'); at != std::string_view::npos) {
    if (head.substr(0, at).find(':') != std::string_view::npos) return true;
  }
  size_t query = rest.find('?');
  if (query == std::string_view::npos) return false;
  std::string_view params = rest.substr(query + 1);
  while (!params.empty()) {
    size_t amp = params.find('&');
    std::string_view param = params.substr(0, amp);
    if (IsPasswordKey(param.substr(0, param.find('=')))) return true;
    params = amp == std::string_view::npos ? std::string_view() : params.substr(amp + 1);
  }
  return false;
}

std::string FirstLine(const char* text) {
  std::string s = text ? text : "";
  s = s.substr(0, s.find('\n'));
  return s.empty() ? "not a libpq URI" : s;
}

// libpq's conninfo quoting: 'value' with \ and ' escaped by a backslash.
std::string Quoted(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

struct FreeOptions {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};

base::Result<StoreUrl> ParsePostgres(std::string_view text, size_t scheme_size) {
  if (HasPassword(text.substr(scheme_size))) return std::unexpected(PasswordRefused());
  char* errmsg = nullptr;
  std::unique_ptr<PQconninfoOption, FreeOptions> options(
      PQconninfoParse(std::string(text).c_str(), &errmsg));
  if (!options) {
    std::string why = errmsg ? FirstLine(errmsg) : "out of memory";
    if (errmsg) PQfreemem(errmsg);
    return std::unexpected(Invalid("not a valid libpq URI: " + why));
  }
  StoreUrl url{.engine = StoreUrl::Engine::kPostgres,
               .sqlite_path = {},
               .conninfo = {},
               .label = "postgresql"};
  std::array<std::string, kLabelKeywords.size()> label_values;
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view keyword(o->keyword);
    // HasPassword mirrors libpq's URI grammar; should they ever differ, libpq's reading decides.
    if (keyword == "password") return std::unexpected(PasswordRefused());
    if (!url.conninfo.empty()) url.conninfo += ' ';
    url.conninfo += std::string(keyword) + "=" + Quoted(o->val);
    for (size_t i = 0; i < kLabelKeywords.size(); ++i) {
      if (keyword == kLabelKeywords[i]) label_values[i] = o->val;
    }
  }
  for (size_t i = 0; i < kLabelKeywords.size(); ++i) {
    if (!label_values[i].empty())
      url.label += " " + std::string(kLabelKeywords[i]) + "=" + label_values[i];
  }
  return url;
}

}  // namespace

base::Result<StoreUrl> ParseStoreUrl(std::string_view text) {
  if (text.empty()) return std::unexpected(Invalid("empty; want sqlite:PATH or postgresql://..."));
  if (text.size() > kMaxStoreUrl) {
    return std::unexpected(
        Invalid(std::to_string(text.size()) + " bytes, at most " + std::to_string(kMaxStoreUrl)));
  }
  if (text.find('\0') != std::string_view::npos) {
    return std::unexpected(Invalid("contains a NUL byte"));
  }
  if (text.starts_with(kSqlite)) {
    std::string path(text.substr(kSqlite.size()));
    if (path.empty()) return std::unexpected(Invalid("sqlite: needs a path (sqlite:PATH)"));
    return StoreUrl{.engine = StoreUrl::Engine::kSqlite,
                    .sqlite_path = path,
                    .conninfo = {},
                    .label = "sqlite:" + path};
  }
  if (text.starts_with(kPostgresql)) return ParsePostgres(text, kPostgresql.size());
  if (text.starts_with(kPostgres)) return ParsePostgres(text, kPostgres.size());
  // The scheme only, and only if it looks like one: a mistyped URI may hold a password.
  std::string_view scheme = text.substr(0, text.find(':'));
  bool plain = scheme.size() < text.size() && scheme.size() <= 16 &&
               std::ranges::all_of(scheme, [](unsigned char c) { return std::isalnum(c); });
  return std::unexpected(
      Invalid((plain ? "unknown scheme '" + std::string(scheme) + "'" : std::string("no scheme")) +
              "; want sqlite:PATH, postgresql://... or postgres://..."));
}

std::string StoreConninfoWithPassword(const StoreUrl& url, std::string_view password) {
  return url.conninfo + (url.conninfo.empty() ? "" : " ") + "password=" + Quoted(password);
}

}  // namespace db
