// cli_checks.h — CLI11 validators for provisiond's options, so that a bad value on the command
// line or in the config file is refused at parse time with one line naming the option.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "daemon/config.h"

namespace provisiond {

// Longest text option (a name, a note, a path); longer is refused.
inline constexpr size_t kMaxOptionText = 4096;

// A numeric IPv4 / [IPv6] address and a port in 0-65535 (net.h CheckListenAddress); with
// `bare_port`, a PORT alone means 127.0.0.1:PORT (--metrics-listen).
CLI::Validator ListenAddress(bool bare_port);
// A duration like 90s, 15m, 12h, 30d (authority/rate_limiter.h ParseDuration).
CLI::Validator DurationText();
// N/PERIOD or off (authority/rate_limiter.h ParseRateSpec).
CLI::Validator RateText();
// An IPv4 or IPv6 CIDR, or one address (cidr.h ParseCidr).
CLI::Validator CidrText();
// Not empty and at most kMaxOptionText bytes.
CLI::Validator NonEmptyText();
// A path that, if it exists, is a directory, and whose parent is a directory (init creates it).
CLI::Validator NewOrExistingDirectory();
// An existing directory that this process can read and enter.
CLI::Validator ReadableDirectory();
// An existing regular file that this process can read.
CLI::Validator ReadableFile();
// A file path whose directory exists and is writable, and which is not a directory (crl --out).
CLI::Validator WritableFilePath();

// --store and --store-password-file (the URL and the file are checked when the command starts:
// StoreLocation::Resolve, daemon/store_open.h).
void AddStoreOptions(CLI::App* cmd, StoreOptions& options);

// --ca-key-uri and --allow-pin-value (daemon/ca_key_source.h).
void AddCaKeyOptions(CLI::App* cmd, CaKeyOptions& options);

// "" if serve's --state-dir is a readable directory and each --trust a readable file or
// directory; else "--option: why" for the first that is not.
std::string ServePathProblem(const ServeConfig& config);

// `text` with the password of any URI's user:password@ and any password=VALUE replaced by ***:
// CLI11 repeats arguments it could not place (a mistyped --store), and such a message goes to
// stderr.
std::string WithoutPasswords(std::string text);

// One line per parse error: "provisiond: --option: what is wrong (see --help)", passwords
// removed (WithoutPasswords).
std::string OneLineFailure(const CLI::App* app, const CLI::Error& e);

}  // namespace provisiond
