// admin_tidy.h — `provisiond tidy` (retention, #19 part 5): removes expired certificates, expired
// pending intents and old events in short transactions beside a serving daemon, after writing a
// signed checkpoint and (--archive) a signed archive of what it removes; and `audit
// verify-archive FILE`. What it removes and never removes: docs/security.md, "Retention".
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "daemon/config.h"
#include "daemon/store_open.h"
#include "db/store.h"

namespace provisiond {

// --expired-before may be no later than now minus this: a certificate just past its notAfter may
// still be checked by a relying party whose clock lags (or this host's clock may run ahead).
inline constexpr int64_t kTidySafetyMarginSeconds = 3600;
// Rows removed (or carried) per transaction: a serving daemon's commit waits at most for one.
inline constexpr int kTidyBatchRows = 500;

struct TidyOptions {
  std::string expired_before;  // DATE: YYYY-MM-DD or RFC 3339 (required)
  std::string events_before;   // DATE, or "" to keep every event
  std::string archive;         // FILE, or "" for none
  bool dry_run = false;
};

// Adds `tidy` (its --state-dir, --store and CA key options are added by AddAdminCommands).
CLI::App* AddTidyCommand(CLI::App& app, TidyOptions& options, CaKeyOptions& ca_key);

// Exit 0 done (one summary line), 1 refused or failed (one line on stderr).
int RunTidy(const TidyOptions& options, const std::string& state_dir, const CaKeyOptions& ca_key,
            const StoreLocation& store);

// `audit verify-archive FILE`: exit 0 and one "archive ok ..." line, 1 and one line naming the
// problem.
int VerifyTidyArchive(const std::string& file, const std::string& state_dir);

// After a whole-chain `audit verify`: a truncated chain's base must carry the signed checkpoint of
// the row below it (or, after an interrupted truncation, of a row still in the chain that
// matches). nullopt when it does (or the chain was never truncated), else the problem.
std::optional<std::string> ChainBaseProblem(db::Store& store, const std::string& state_dir);

// "YYYY-MM-DD" (midnight UTC) or RFC 3339 ("2026-01-02T03:04:05Z", "+01:00" offsets, fraction
// ignored) as Unix time; nullopt for anything else (including impossible dates).
std::optional<int64_t> ParseTidyDate(std::string_view text);

}  // namespace provisiond
