// store_checker_test.cc — BackgroundStoreCheck: a damaged page that no write reads is found in
// the background and marks the store damaged (issuance stops, /healthz fails); a sound one passes.
#include "daemon/store_checker.h"

#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "tests/db/damage_fixture.h"

namespace provisiond {
namespace {

using db::testing::TempDir;

// A closed store with 200 issued certificates.
std::string StoreWith200(const TempDir& dir) {
  std::string path = dir.File("store.db");
  auto store = db::testing::OpenOrDie(path);
  for (int i = 0; i < 200; ++i) {
    db::testing::Issue(*store, db::testing::SampleCertificate(db::testing::SerialHex(i)));
  }
  return path;
}

bool WaitForCompleted(const BackgroundStoreCheck& check) {
  for (int i = 0; i < 1000 && check.completed() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return check.completed() > 0;
}

TEST_CASE("the background check marks a store damaged where no write would look") {
  TempDir dir;
  const std::string path = StoreWith200(dir);
  db::testing::DamagePage(path, db::testing::FirstLeafPage(path, "enrollment_events"));
  auto store = db::testing::OpenOrDie(path);  // opens, as serve would
  db::StoreHealth health;
  BackgroundStoreCheck check(path, health, std::chrono::milliseconds(0));
  REQUIRE(WaitForCompleted(check));
  CHECK(health.damaged());
  CHECK_FALSE(health.up());
  CHECK(health.Get().reason.find("quick_check") != std::string::npos);
  health.Answered();  // a statement answering later does not lift it
  CHECK_FALSE(health.up());
}

TEST_CASE("the background check leaves a sound store up") {
  TempDir dir;
  const std::string path = StoreWith200(dir);
  db::StoreHealth health;
  BackgroundStoreCheck check(path, health, std::chrono::milliseconds(0));
  REQUIRE(WaitForCompleted(check));
  CHECK_FALSE(health.damaged());
  CHECK(health.up());
}

TEST_CASE("stopping before the first check runs none") {
  TempDir dir;
  const std::string path = StoreWith200(dir);
  db::StoreHealth health;
  { BackgroundStoreCheck check(path, health, std::chrono::hours(1)); }  // joins at once
  CHECK(health.up());
}

}  // namespace
}  // namespace provisiond
