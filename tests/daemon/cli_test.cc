// cli_test.cc — the config file and the command line: the file fills what the command line
// leaves unset, the command line wins, unknown keys are errors, SIGHUP re-reads the same way.
#include "daemon/cli.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/cli_checks.h"

using namespace provisiond;

namespace {

// A config file in a temp dir, removed at the end of the test.
struct TempConfig {
  explicit TempConfig(const std::string& text) {
    char tmpl[] = "/tmp/provisiond-cli-test.XXXXXX";
    int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = tmpl;
    std::ofstream(path) << text;
  }
  ~TempConfig() { std::remove(path.c_str()); }
  std::string path;
};

constexpr char kConfig[] = R"(log-level = "debug"
[serve]
state-dir = "/srv/state"
trust = ["/etc/a.pem", "/etc/b"]
listen = "127.0.0.1:9443"
profile = ["label=line-a,o=Acme,ou=Line A,days=365"]
reenroll-same-key = true
rate-limit-device = "5/1m"
metrics-listen = "127.0.0.1:9102"
drain-timeout = "20s"
)";

void Parse(Cli& cli, std::vector<std::string> args) {
  std::vector<const char*> argv = {"provisiond"};
  for (const auto& a : args) argv.push_back(a.c_str());
  cli.Parse(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

TEST_CASE("serve settings come from the [serve] section of the config file") {
  TempConfig file(kConfig);
  Cli cli;
  Parse(cli, {"serve", "--config", file.path});
  CHECK(cli.serve_selected());
  CHECK(cli.config_file() == file.path);
  CHECK(cli.log_level() == Priority::kDebug);
  auto c = cli.serve_config();
  REQUIRE(c.has_value());
  CHECK(c->state_dir == "/srv/state");
  CHECK(c->trust_paths == std::vector<std::string>{"/etc/a.pem", "/etc/b"});
  CHECK(c->listen == "127.0.0.1:9443");
  CHECK(c->policy.reenroll_same_key);
  CHECK(c->policy.device_rate.burst == 5);
  CHECK(c->metrics_listen == "127.0.0.1:9102");
  CHECK(c->drain_timeout == std::chrono::seconds(20));
  REQUIRE(c->labeled_profiles.count("line-a") == 1);
  CHECK(c->labeled_profiles.at("line-a").organizational_unit == "Line A");
}

TEST_CASE("the command line wins over the file, before or after the subcommand") {
  TempConfig file(kConfig);
  Cli cli;
  Parse(cli, {"--config", file.path, "serve", "--listen", "0.0.0.0:1", "--trust", "/x",
              "--log-level", "warning"});
  auto c = cli.serve_config();
  REQUIRE(c.has_value());
  CHECK(c->listen == "0.0.0.0:1");
  CHECK(c->trust_paths == std::vector<std::string>{"/x"});
  CHECK(c->state_dir == "/srv/state");  // not on the command line: from the file
  CHECK(cli.log_level() == Priority::kWarning);
}

TEST_CASE("unknown keys and bad values in the file are errors") {
  TempConfig unknown(std::string(kConfig) + "listne = \"typo\"\n");
  Cli a;
  CHECK_THROWS_AS(Parse(a, {"serve", "--config", unknown.path}), CLI::ConfigError);
  TempConfig bad("[serve]\nstate-dir = \"/s\"\ntrust = [\"/t\"]\ntls-min = \"1.1\"\n");
  Cli b;
  CHECK_THROWS_AS(Parse(b, {"serve", "--config", bad.path}), CLI::ValidationError);
  Cli c;
  CHECK_THROWS_AS(Parse(c, {"serve", "--config", "/nonexistent/provisiond.toml"}), CLI::FileError);
}

TEST_CASE("an empty --config reads no file; serve then needs its options") {
  Cli cli;
  CHECK_THROWS_AS(Parse(cli, {"serve", "--config", ""}), CLI::RequiredError);
  Cli ok;
  Parse(ok, {"serve", "--config", "", "--state-dir", "/s", "--trust", "/t"});
  CHECK(ok.config_file().empty());
}

TEST_CASE("check-config reads the same settings without requiring them") {
  TempConfig file(kConfig);
  Cli cli;
  Parse(cli, {"check-config", "--config", file.path, "--service-user", "provisiond", "--listen",
              "127.0.0.1:1"});
  CHECK(cli.check_selected());
  CHECK(cli.check().service_user == "provisiond");
  auto c = cli.serve_config();
  REQUIRE(c.has_value());
  CHECK(c->state_dir == "/srv/state");
  CHECK(c->listen == "127.0.0.1:1");
  Cli empty;
  Parse(empty, {"check-config", "--config", ""});
  CHECK(empty.raw_serve_config().state_dir.empty());
}

TEST_CASE("ReparseServe re-reads the file through the original argv (SIGHUP)") {
  TempConfig file(kConfig);
  std::vector<std::string> argv = {"provisiond", "serve", "--config", file.path, "--workers", "3"};
  auto first = ReparseServe(argv);
  REQUIRE(first.has_value());
  CHECK(first->config.workers == 3);
  CHECK(first->config.default_profile.organization.empty());
  std::ofstream(file.path, std::ios::app) << "org = \"Reloaded\"\n";
  auto second = ReparseServe(argv);
  REQUIRE(second.has_value());
  CHECK(second->config.default_profile.organization == "Reloaded");
  std::ofstream(file.path, std::ios::app) << "validity-days = \"many\"\n";
  auto bad = ReparseServe(argv);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().detail.find("validity-days") != std::string::npos);
}

TEST_CASE("a parse error never repeats a password given on the command line") {
  CHECK(WithoutPasswords("x postgresql://app:Pw-9@db:5432/p y") ==
        "x postgresql://app:***@db:5432/p y");
  CHECK(WithoutPasswords("postgres://app@db/p?sslmode=disable&password=Pw-9&x=1") ==
        "postgres://app@db/p?sslmode=disable&password=***&x=1");
  CHECK(WithoutPasswords("host=db PASSWORD=Pw-9 user=app") == "host=db PASSWORD=*** user=app");
  CHECK(WithoutPasswords("postgresql://db:5432/p --store") == "postgresql://db:5432/p --store");
  // CLI11 lists the arguments it could not place: a mistyped --store.
  Cli cli;
  try {
    Parse(cli, {"--config", "", "list", "--stor", "postgresql://app:Pw-9@db/p"});
    FAIL("a mistyped option was accepted");
  } catch (const CLI::ParseError& e) {
    CHECK(std::string(e.what()).find("Pw-9") != std::string::npos);  // CLI11 repeats it ...
    const std::string line = OneLineFailure(nullptr, e);
    CHECK(line.find("Pw-9") == std::string::npos);  // ... the line printed does not
    CHECK(line.find("postgresql://app:***@db/p") != std::string::npos);
  }
}
