// store_open_test.cc — StoreLocation::Resolve: the default SQLite file of the state directory,
// --store, and --store-password-file's checks (mode, owner, content), whose refusals never show
// the password; --store from the command line and from [serve] in the config file.
#include "daemon/store_open.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/cli.h"

using namespace provisiond;

namespace {

constexpr char kPassword[] = "Pw-unit-4k2";

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/provisiond-store-open.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string File(const std::string& name, const std::string& text, mode_t mode) const {
    std::string file = path + "/" + name;
    std::ofstream(file) << text;
    REQUIRE(::chmod(file.c_str(), mode) == 0);
    return file;
  }
  std::string path;
};

std::string Refusal(const StoreOptions& options, const std::string& state_dir = "/srv/state") {
  auto location = StoreLocation::Resolve(options, state_dir);
  REQUIRE(!location.has_value());
  CHECK(location.error().code == base::Code::kInvalidArgument);
  CHECK(location.error().detail.find(kPassword) == std::string::npos);
  return location.error().detail;
}

}  // namespace

TEST_CASE("no --store: the state directory's SQLite file, as before") {
  auto location = StoreLocation::Resolve({}, "/srv/state");
  REQUIRE(location.has_value());
  CHECK_FALSE(location->postgres());
  CHECK(location->label() == "sqlite:/srv/state/provisiond.db");
  auto explicit_url = StoreLocation::Resolve({.url = "sqlite:/x/y.db", .password_file = {}}, "");
  REQUIRE(explicit_url.has_value());
  CHECK(explicit_url->label() == "sqlite:/x/y.db");
  CHECK(Refusal({}, "").find("--store or --state-dir is required") != std::string::npos);
}

TEST_CASE("a SQLite store opens and migrates from its URL") {
  TempDir dir;
  auto location =
      StoreLocation::Resolve({.url = "sqlite:" + dir.path + "/s.db", .password_file = {}}, "");
  REQUIRE(location.has_value());
  auto version = location->Migrate();
  REQUIRE(version.has_value());
  CHECK(*version == db::kSchemaVersion);
  CHECK(location->Open().has_value());
}

TEST_CASE("--store-password-file: a private, one-line file owned by this user") {
  TempDir dir;
  const std::string url = "postgresql://app@127.0.0.1:5432/provisiond";
  std::string good = dir.File("pw", std::string(kPassword) + "\n", 0600);
  auto location = StoreLocation::Resolve({.url = url, .password_file = good}, "");
  REQUIRE(location.has_value());
  CHECK(location->postgres());
  CHECK(location->label() == "postgresql host=127.0.0.1 port=5432 dbname=provisiond");
  CHECK(location->label().find(kPassword) == std::string::npos);
  CHECK(StoreLocation::Resolve({.url = url, .password_file = dir.File("ro", kPassword, 0400)}, "")
            .has_value());

  CHECK(Refusal({.url = url, .password_file = dir.File("open", kPassword, 0644)})
            .find("mode 0644, want 0600") != std::string::npos);
  CHECK(Refusal({.url = url, .password_file = dir.File("group", kPassword, 0640)})
            .find("mode 0640") != std::string::npos);
  CHECK(Refusal({.url = url, .password_file = dir.File("empty", "\n", 0600)}).find("empty") !=
        std::string::npos);
  CHECK(Refusal({.url = url,
                 .password_file = dir.File("two", std::string(kPassword) + "\nmore\n", 0600)})
            .find("more than one line") != std::string::npos);
  CHECK(
      Refusal({.url = url, .password_file = dir.path + "/missing"}).find("--store-password-file") !=
      std::string::npos);
  std::filesystem::create_symlink(good, dir.path + "/link");
  CHECK(Refusal({.url = url, .password_file = dir.path + "/link"}).find("--store-password-file") !=
        std::string::npos);
  if (::geteuid() == 0) {  // as root: a file another user owns is refused
    std::string theirs = dir.File("theirs", kPassword, 0600);
    REQUIRE(::chown(theirs.c_str(), 65534, 65534) == 0);
    CHECK(Refusal({.url = url, .password_file = theirs}).find("owned by uid 65534") !=
          std::string::npos);
  }
  CHECK(Refusal({.url = "sqlite:/x.db", .password_file = good}).find("only for a postgresql") !=
        std::string::npos);
  CHECK(
      Refusal({.url = "postgresql://app:" + std::string(kPassword) + "@h/db", .password_file = {}})
          .starts_with("--store: a password inside the URI is refused"));
}

TEST_CASE("--store on the command line and under [serve] in the config file") {
  TempDir dir;
  std::string config = dir.File("provisiond.toml",
                                "[serve]\nstate-dir = \"/srv/state\"\n"
                                "store = \"postgresql://app@db/provisiond\"\n"
                                "store-password-file = \"/etc/provisiond/pgpass\"\n",
                                0644);
  Cli cli;
  std::vector<const char*> argv = {"provisiond", "--config", config.c_str(), "list"};
  cli.Parse(static_cast<int>(argv.size()), argv.data());
  CHECK(cli.raw_serve_config().store.url == "postgresql://app@db/provisiond");
  CHECK(cli.raw_serve_config().store.password_file == "/etc/provisiond/pgpass");
  CHECK(cli.admin().store.url.empty());  // main falls back to [serve]'s
  Cli given;
  std::vector<const char*> args = {"provisiond", "--config", "",
                                   "migrate",    "--store",  "sqlite:/a.db"};
  given.Parse(static_cast<int>(args.size()), args.data());
  CHECK(*given.admin_commands().migrate);
  CHECK(given.admin().store.url == "sqlite:/a.db");
}
