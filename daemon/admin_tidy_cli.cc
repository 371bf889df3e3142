// admin_tidy_cli.cc — `provisiond tidy`'s options and --help (AddTidyCommand) and its dates
// (ParseTidyDate); the command itself is admin_tidy.cc.
#include <ctime>

#include "daemon/admin_tidy.h"
#include "daemon/cli_checks.h"

namespace provisiond {

std::optional<int64_t> ParseTidyDate(std::string_view text) {
  auto digits = [&](size_t at, size_t n) -> std::optional<int> {
    if (at + n > text.size()) return std::nullopt;
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  auto y = digits(0, 4), mo = digits(5, 2), d = digits(8, 2);
  if (!y || !mo || !d || text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  std::tm tm{.tm_sec = 0, .tm_min = 0, .tm_hour = 0, .tm_mday = *d, .tm_mon = *mo - 1,
             .tm_year = *y - 1900};
  int64_t offset = 0;
  if (text.size() > 10) {
    auto h = digits(11, 2), mi = digits(14, 2), s = digits(17, 2);
    if (!h || !mi || !s || (text[10] != 'T' && text[10] != 't') || text[13] != ':' ||
        text[16] != ':' || *h > 23 || *mi > 59 || *s > 59) {
      return std::nullopt;
    }
    tm.tm_hour = *h;
    tm.tm_min = *mi;
    tm.tm_sec = *s;
    size_t at = 19;
    if (at < text.size() && text[at] == '.') {
      do ++at; while (at < text.size() && text[at] >= '0' && text[at] <= '9');
    }
    const std::string_view zone = text.substr(std::min(at, text.size()));
    if (zone == "Z" || zone == "z") {
    } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
      auto oh = digits(at + 1, 2), om = digits(at + 4, 2);
      if (!oh || !om || *oh > 23 || *om > 59) return std::nullopt;
      offset = (zone[0] == '+' ? 1 : -1) * (*oh * 3600 + *om * 60);
    } else {
      return std::nullopt;
    }
  }
  const std::tm asked = tm;
  const int64_t t = static_cast<int64_t>(timegm(&tm));
  if (tm.tm_mday != asked.tm_mday || tm.tm_mon != asked.tm_mon) return std::nullopt;  // 02-30
  return t - offset;
}

CLI::App* AddTidyCommand(CLI::App& app, TidyOptions& o, CaKeyOptions& ca_key) {
  CLI::App* cmd = app.add_subcommand(
      "tidy",
      "remove expired certificates (revoked ones once no CRL lists them), expired pending "
      "intents and (--events-before) old events, online, after a signed audit checkpoint; "
      "never an unexpired certificate");
  cmd->add_option("--expired-before", o.expired_before,
                  "DATE (YYYY-MM-DD or RFC 3339, at least 1 hour ago): certificates and pending "
                  "intents whose notAfter is before it")
      ->required()
      ->check(NonEmptyText());
  cmd->add_option("--events-before", o.events_before,
                  "DATE (not in the future): also remove the audit chain's rows before it (state "
                  "they record that still exists is carried forward)")
      ->check(NonEmptyText());
  cmd->add_option("--archive", o.archive,
                  "FILE (must not exist): every removed row, signed with the CA key, written "
                  "before it is removed (check with `audit verify-archive FILE`)")
      ->check(WritableFilePath());
  cmd->add_flag("--dry-run", o.dry_run, "count what would be removed; change nothing");
  AddCaKeyOptions(cmd, ca_key);
  return cmd;
}

}  // namespace provisiond
