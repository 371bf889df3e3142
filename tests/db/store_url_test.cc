// store_url_test.cc — ParseStoreUrl: every accepted form, each refusal, and that a refusal of a
// password inside the URI never repeats the password.
#include "db/store_url.h"

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <string>

namespace db {
namespace {

constexpr char kSecret[] = "S3cr3t-pw";

StoreUrl Parsed(const std::string& text) {
  auto url = ParseStoreUrl(text);
  REQUIRE_MESSAGE(url.has_value(), text << ": " << (url ? "" : url.error().detail));
  return *url;
}

std::string Refusal(const std::string& text) {
  auto url = ParseStoreUrl(text);
  REQUIRE_MESSAGE(!url.has_value(), text << " was accepted");
  CHECK(url.error().code == base::Code::kInvalidArgument);
  CHECK(url.error().detail.find('\n') == std::string::npos);
  return url.error().detail;
}

TEST_CASE("sqlite:PATH names a SQLite file") {
  StoreUrl url = Parsed("sqlite:/var/lib/provisiond/provisiond.db");
  CHECK(url.engine == StoreUrl::Engine::kSqlite);
  CHECK(url.sqlite_path == "/var/lib/provisiond/provisiond.db");
  CHECK(url.label == "sqlite:/var/lib/provisiond/provisiond.db");
  CHECK(Parsed("sqlite:relative/x.db").sqlite_path == "relative/x.db");
}

TEST_CASE("postgresql:// and postgres:// URIs become a libpq keyword conninfo") {
  StoreUrl url = Parsed("postgresql://app@db.example:5433/provisiond?sslmode=require");
  CHECK(url.engine == StoreUrl::Engine::kPostgres);
  CHECK(url.sqlite_path.empty());
  CHECK(url.conninfo.find("user='app'") != std::string::npos);
  CHECK(url.conninfo.find("host='db.example'") != std::string::npos);
  CHECK(url.conninfo.find("port='5433'") != std::string::npos);
  CHECK(url.conninfo.find("dbname='provisiond'") != std::string::npos);
  CHECK(url.conninfo.find("sslmode='require'") != std::string::npos);
  CHECK(url.label == "postgresql host=db.example port=5433 dbname=provisiond");
  CHECK(Parsed("postgres://app@127.0.0.1/x").engine == StoreUrl::Engine::kPostgres);
  // Defaults (PGHOST, the Unix socket) for everything: still a URI.
  CHECK(Parsed("postgresql://").conninfo.empty());
  // A multi-host URI (failover) and a Unix socket directory in host=.
  StoreUrl multi = Parsed("postgresql://app@h1:5432,h2:5433/db?target_session_attrs=read-write");
  CHECK(multi.conninfo.find("host='h1,h2'") != std::string::npos);
  CHECK(multi.conninfo.find("target_session_attrs='read-write'") != std::string::npos);
  CHECK(Parsed("postgresql:///db?host=/tmp/pg%20dir").conninfo.find("host='/tmp/pg dir'") !=
        std::string::npos);
  // libpq's own passfile parameter is how a password may be named.
  CHECK(Parsed("postgresql://app@h/db?passfile=/etc/provisiond/pgpass")
            .conninfo.find("passfile='/etc/provisiond/pgpass'") != std::string::npos);
}

TEST_CASE("malformed store URLs are refused with one line") {
  CHECK(Refusal("").find("want sqlite:PATH") != std::string::npos);
  CHECK(Refusal("sqlite:").find("needs a path") != std::string::npos);
  CHECK(Refusal("mysql://app@h/db").find("unknown scheme 'mysql'") != std::string::npos);
  CHECK(Refusal("/var/lib/provisiond/provisiond.db").find("no scheme") != std::string::npos);
  CHECK(Refusal("host=h dbname=d").find("no scheme") != std::string::npos);
  CHECK(Refusal("postgresql://h/db?nosuchparameter=1").find("nosuchparameter") !=
        std::string::npos);
  CHECK(Refusal("postgresql://h/db?sslmode").find("libpq URI") != std::string::npos);
  CHECK(Refusal(std::string("sqlite:/a\0b", 11)).find("NUL") != std::string::npos);
  CHECK(Refusal("sqlite:/" + std::string(kMaxStoreUrl, 'a')).find("at most") != std::string::npos);
}

TEST_CASE("a password inside the URI is refused without repeating it") {
  const std::string secret = kSecret;
  for (const std::string& text : {
           "postgresql://app:" + secret + "@h/db",
           "postgres://app:" + secret + "@h:5432/db",
           "postgresql://app:" + secret + "@h",
           "postgresql://app@h/db?password=" + secret,
           "postgresql://app@h/db?sslmode=disable&password=" + secret,
           "postgresql://app@h/db?PASSWORD=" + secret,
           "postgresql://app@h/db?pass%77ord=" + secret,
           // Malformed after the password: libpq's own error would repeat the URI.
           "postgresql://app:" + secret + "@[::1/db",
           "postgresql://app@h/db?password=" + secret + "%zz",
           // A mistyped scheme: nothing of the text but a plain scheme name is repeated.
           "postgressql://app:" + secret + "@h/db",
           "app:" + secret + "@h/db",
       }) {
    CAPTURE(text);
    std::string why = Refusal(text);
    CHECK(why.find(secret) == std::string::npos);
    CHECK(why.find("S3cr3t") == std::string::npos);
  }
  CHECK(Refusal("postgresql://app:" + secret + "@h/db").find("--store-password-file") !=
        std::string::npos);
  // user names and a ':' elsewhere are not passwords.
  CHECK(Parsed("postgresql://h:5432/db").conninfo.find("port='5432'") != std::string::npos);
  CHECK(Parsed("postgresql://app@[::1]:5432/db").conninfo.find("host='::1'") != std::string::npos);
}

TEST_CASE("a password from a file is added as a quoted keyword") {
  StoreUrl url = Parsed("postgresql://app@h/db");
  const std::string conninfo = StoreConninfoWithPassword(url, "it's a \\ pass word");
  CHECK(conninfo == url.conninfo + " password='it\\'s a \\\\ pass word'");
  char* errmsg = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &errmsg);
  REQUIRE(options != nullptr);
  std::string password;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::string(o->keyword) == "password" && o->val) password = o->val;
  }
  PQconninfoFree(options);
  CHECK(password == "it's a \\ pass word");
}

}  // namespace
}  // namespace db
