// store_check_test.cc — SQLite-only: how a damaged page is found now that an open no longer reads
// the whole file: the write that reads it fails and writes nothing, db::SqliteFileCheck finds
// damage anywhere, and opening and listing never read the pages they do not need.
#include <doctest/doctest.h>

#include <string>

#include "db/sqlite_store.h"
#include "db/store_check.h"
#include "tests/db/damage_fixture.h"

namespace db::testing {
namespace {

// A closed store with `n` issued certificates (the WAL checkpointed into the file).
std::string StoreWith(const TempDir& dir, int n) {
  std::string path = dir.File("store.db");
  auto store = OpenOrDie(path);
  for (int i = 0; i < n; ++i) Issue(*store, SampleCertificate(SerialHex(i)));
  return path;
}

TEST_CASE("a write that reads a damaged index page fails with kCorrupt and writes nothing") {
  TempDir dir;
  const std::string path = StoreWith(dir, 50);
  const int64_t page = RootPage(path, "certificates_device_id");
  DamagePage(path, page);
  const std::string damaged = PageBytes(path, page);

  // Opening reads the schema, not every page: the store opens.
  auto store = OpenOrDie(path);
  const CertificateRecord cert = SampleCertificate(SerialHex(77));
  auto issued =
      ReserveAndComplete(*store, cert, SampleEvent("issued", cert.serial_hex), AnyQuota());
  REQUIRE_FALSE(issued.has_value());
  CHECK(issued.error().code == Code::kCorrupt);
  CHECK(issued.error().detail.find("malformed") != std::string::npos);
  store.reset();  // closes: a checkpoint would copy any committed page into the file
  CHECK(RowCount(path, "certificates NOT INDEXED") == 50);
  CHECK(RowCount(path, "certificates NOT INDEXED WHERE serial = '" + cert.serial_hex + "'") == 0);
  CHECK(PageBytes(path, page) == damaged);  // nothing was written on top of it
}

TEST_CASE("the whole-file check finds a damaged page that no write reads") {
  TempDir dir;
  const std::string path = StoreWith(dir, 200);
  const int64_t page = FirstLeafPage(path, "enrollment_events");
  REQUIRE(page > 0);
  REQUIRE(page != RootPage(path, "enrollment_events"));

  SUBCASE("a sound file passes") {
    SqliteFileCheck check;
    auto result = check.Run(path);
    REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().detail));
    CHECK(result->finished);
    CHECK(result->pages > 10);
  }
  SUBCASE("a damaged one fails, while writes still succeed around the damage") {
    DamagePage(path, page);
    {
      auto store = OpenOrDie(path);
      Issue(*store, SampleCertificate(SerialHex(500)));  // appends: never reads the first leaf
    }
    SqliteFileCheck check;
    auto result = check.Run(path);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == Code::kCorrupt);
    CHECK(result.error().detail.find("quick_check") != std::string::npos);
  }
}

TEST_CASE("opening and a one-device list read only the pages they need") {
  TempDir dir;
  const std::string path = StoreWith(dir, 200);
  // Damage in the oldest events: an open that checked the whole file would refuse the store.
  DamagePage(path, FirstLeafPage(path, "enrollment_events"));
  auto store = OpenOrDie(path);
  const std::string device = SampleCertificate(SerialHex(3)).device_id;
  auto rows = store->ListCertificates(ListFilter{.device_id = device});
  REQUIRE_MESSAGE(rows.has_value(), (rows ? "" : rows.error().detail));
  CHECK(rows->size() >= 1);
}

TEST_CASE("an interrupted check has no verdict") {
  TempDir dir;
  const std::string path = StoreWith(dir, 5);
  SqliteFileCheck check;
  check.Interrupt();
  auto result = check.Run(path);
  REQUIRE(result.has_value());
  CHECK_FALSE(result->finished);
}

}  // namespace
}  // namespace db::testing
