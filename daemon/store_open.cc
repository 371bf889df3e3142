// store_open.cc — --store and --store-password-file to an open store, for every command (see
// store_open.h).
#include "daemon/store_open.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "daemon/config.h"
#include "daemon/files.h"
#include "daemon/log.h"
#include "db/ca_generation_states.h"
#include "db/pg_writer.h"
#include "db/store_check.h"

namespace provisiond {
namespace {

// A libpq password is one line; a file ends it with a newline or not.
constexpr size_t kMaxPasswordBytes = 1024;

base::Result<std::string> ReadPassword(const std::string& path) {
  auto text = ReadSecretFile(path, kMaxPasswordBytes + 2);
  if (!text) {
    return base::Fail(base::Code::kInvalidArgument,
                      "--store-password-file: " + text.error().detail);
  }
  std::string password = std::move(*text);
  if (password.ends_with('\n')) password.pop_back();
  if (password.ends_with('\r')) password.pop_back();
  auto refuse = [&](const char* why) {
    return base::Fail(base::Code::kInvalidArgument, "--store-password-file: " + path + ": " + why);
  };
  if (password.empty()) return refuse("empty");
  if (password.size() > kMaxPasswordBytes) return refuse("longer than 1024 bytes");
  if (password.find_first_of(std::string("\n\r\0", 3)) != std::string::npos) {
    return refuse("more than one line, or a NUL byte");
  }
  return password;
}

}  // namespace

base::Result<StoreLocation> StoreLocation::Resolve(const StoreOptions& options,
                                                   const std::string& state_dir) {
  if (options.url.empty() && state_dir.empty()) {
    return base::Fail(base::Code::kInvalidArgument,
                      "--store or --state-dir is required (or store / state-dir under [serve] in "
                      "the config file)");
  }
  const std::string text =
      options.url.empty() ? "sqlite:" + StatePaths(state_dir).database : options.url;
  auto url = db::ParseStoreUrl(text);
  if (!url) return base::Fail(base::Code::kInvalidArgument, "--store: " + url.error().detail);
  StoreLocation location;
  location.url_ = std::move(*url);
  location.conninfo_ = location.url_.conninfo;
  if (!options.password_file.empty()) {
    if (!location.postgres()) {
      return base::Fail(base::Code::kInvalidArgument,
                        "--store-password-file: only for a postgresql:// --store");
    }
    auto password = ReadPassword(options.password_file);
    if (!password) return std::unexpected(password.error());
    location.conninfo_ = db::StoreConninfoWithPassword(location.url_, *password);
  }
  return location;
}

db::Result<std::unique_ptr<db::Store>> StoreLocation::Open() const {
  if (postgres()) {
    auto store = db::PgStore::Open(conninfo_);
    if (!store) return std::unexpected(store.error());
    return std::unique_ptr<db::Store>(std::move(*store));
  }
  auto store = db::SqliteStore::Open(url_.sqlite_path, db::SqliteStore::Upgrade::kRefuse);
  if (!store) return std::unexpected(store.error());
  return std::unique_ptr<db::Store>(std::move(*store));
}

db::Result<int> StoreLocation::Migrate() const {
  if (postgres()) {
    if (auto r = db::PgStore::Migrate(conninfo_); !r) return std::unexpected(r.error());
    // Opening checks that the database is now at the version this program knows.
    if (auto store = db::PgStore::Open(conninfo_); !store) return std::unexpected(store.error());
    return db::PgStore::SchemaVersion();
  }
  // An existing file is checked whole before a migration rewrites tables of it (opening no
  // longer checks every page); then SqliteStore::Open upgrades an older file in place (and
  // refuses a newer one).
  std::error_code ec;
  if (std::filesystem::exists(url_.sqlite_path, ec)) {
    if (auto checked = db::SqliteFileCheck().Run(url_.sqlite_path); !checked) {
      return std::unexpected(checked.error());
    }
  }
  if (auto store = db::SqliteStore::Open(url_.sqlite_path); !store) {
    return std::unexpected(store.error());
  }
  return db::kSchemaVersion;
}

db::Result<std::map<int64_t, std::string>> StoreLocation::ReadCaGenerationStates() const {
  if (postgres()) return db::ReadPgCaGenerationStates(conninfo_);
  return db::ReadCaGenerationStates(url_.sqlite_path);
}

db::Result<std::unique_ptr<ServeStore>> ServeStore::Open(const StoreLocation& location) {
  std::unique_ptr<ServeStore> s(new ServeStore(location));
  if (location.postgres()) {
    auto store = db::PgStore::Open(location.conninfo_);
    if (!store) return std::unexpected(store.error());
    s->pg_ = std::move(*store);
  } else {
    auto store =
        db::SqliteStore::Open(location.url_.sqlite_path, db::SqliteStore::Upgrade::kRefuse);
    if (!store) return std::unexpected(store.error());
    s->sqlite_ = std::move(*store);
  }
  return s;
}

db::Result<std::unique_ptr<db::Store>> ServeStore::OpenReader() const { return location_.Open(); }

db::Result<std::unique_ptr<db::Writer>> ServeStore::StartWriter(
    size_t max_queue, size_t max_batch, std::chrono::microseconds commit_delay) {
  if (sqlite_) return std::make_unique<db::Writer>(*sqlite_, max_queue, max_batch, commit_delay);
  return db::PgWriter::Start(*pg_, max_queue, max_batch, commit_delay);
}

// Issuances interrupted between their two commits (a crash, a failed signature or commit) leave
// pending intents: one line with their count, so the operator looks at them. A device's same-key
// retry completes its own; the rest are listed by `list --pending` and revoked by serial.
db::Result<void> ReportPendingIntents(db::Store& store) {
  auto pending = store.PendingIntents();
  if (!pending) return std::unexpected(pending.error());
  if (pending->empty()) return {};
  const auto revoked = std::ranges::count_if(
      *pending, [](const db::Intent& intent) { return intent.revoked_at.has_value(); });
  Log(Priority::kWarning, "pending_intents",
      {{"count", std::to_string(pending->size())},
       {"revoked", std::to_string(revoked)},
       {"action",
        "a device's same-key retry completes its own; see provisiond list --pending, "
        "revoke any that will not be resumed (provisiond revoke --serial)"}});
  return {};
}

}  // namespace provisiond
