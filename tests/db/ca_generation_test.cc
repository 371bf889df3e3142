// ca_generation_test.cc — CA generations (db/sql_ca_generations.cc): the rollover's states and
// their refusals, the race of two activations, the /cacerts fetch record (also through the
// group-commit writer) and `ca status`'s counts, all audited. Every case runs per backend.
#include <doctest/doctest.h>

#include <future>
#include <latch>
#include <map>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "ca/encoding.h"
#include "db/store.h"
#include "tests/db/backend.h"

namespace db::testing {
namespace {

constexpr const char* kNow = "2026-09-01T00:00:00Z";

CaGeneration Generation(int64_t gen, const std::string& state) {
  CaGeneration g{.gen = gen, .state = state};
  g.cert_der = {0x30, 0x03, 0x02, 0x01, static_cast<unsigned char>(gen)};
  g.cert_sha256 = ca::Sha256Hex(std::span(g.cert_der.data(), g.cert_der.size()));
  if (gen > 1) {
    g.new_with_old_der = {0x30, 0x01, static_cast<unsigned char>(gen)};
    g.old_with_new_der = {0x30, 0x02, static_cast<unsigned char>(gen)};
  }
  g.key_location = gen == 1 ? "ca.key" : "ca-gen" + std::to_string(gen) + "/ca.key";
  g.created_at = "2026-08-3" + std::to_string(gen % 10) + "T00:00:00Z";
  if (state == "active") g.activated_at = g.created_at;
  return g;
}

CaChange Rollover(Store& store, int64_t gen) {
  auto change = store.AddCaGeneration(Generation(1, "active"), Generation(gen, "pending"));
  REQUIRE_MESSAGE(change.has_value(), (change ? "" : change.error().detail));
  return *change;
}

std::vector<std::string> States(Store& store) {
  std::vector<std::string> states;
  auto generations = store.ListCaGenerations();
  REQUIRE(generations.has_value());
  for (const CaGeneration& g : *generations) states.push_back(g.state);
  return states;
}

void CheckAudited(Store& store) {
  auto report = store.VerifyAuditChain();
  REQUIRE_MESSAGE(report.has_value(), (report ? "" : report.error().detail));
  CHECK_MESSAGE(report->ok, report->problem);
}

using States_ = std::vector<std::string>;

}  // namespace

TEST_CASE_TEMPLATE("ca generations: rollover, activate, retire and every refusal", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  CHECK(store->ListCaGenerations().value().empty());
  int64_t gen = 0;
  CHECK(store->ActivateCaGeneration(kNow, &gen).value() == CaChange::kNothingPending);
  CHECK(Rollover(*store, 3) == CaChange::kGenTaken);
  REQUIRE(Rollover(*store, 2) == CaChange::kDone);
  CHECK(States(*store) == States_{"active", "pending"});
  CHECK(Rollover(*store, 3) == CaChange::kPendingExists);
  CHECK(store->RetireCaGeneration(kNow, &gen).value() == CaChange::kNothingToRetire);

  REQUIRE(store->ActivateCaGeneration("2026-09-02T00:00:00Z", &gen).value() == CaChange::kDone);
  CHECK(gen == 2);
  CHECK(States(*store) == States_{"previous", "active"});
  CHECK(store->ActivateCaGeneration(kNow, &gen).value() == CaChange::kNothingPending);
  CHECK(Rollover(*store, 3) == CaChange::kPreviousExists);

  REQUIRE(store->RetireCaGeneration("2026-09-03T00:00:00Z", &gen).value() == CaChange::kDone);
  CHECK(gen == 1);
  CHECK(States(*store) == States_{"retired", "active"});
  CHECK(store->RetireCaGeneration(kNow, &gen).value() == CaChange::kNothingToRetire);
  REQUIRE(Rollover(*store, 3) == CaChange::kDone);
  auto generations = store->ListCaGenerations().value();
  REQUIRE(generations.size() == 3);
  CHECK(generations[1].new_with_old_der == Generation(2, "pending").new_with_old_der);
  CHECK(generations[0].retired_at == std::optional<std::string>("2026-09-03T00:00:00Z"));
  CheckAudited(*store);
}

TEST_CASE_TEMPLATE("ca generations: two connections racing activate make one active", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto first = Backend::Open(dir);
  auto second = Backend::Open(dir);
  for (int64_t round = 2; round <= 5; ++round) {
    if (round > 2) {
      int64_t retired = 0;
      REQUIRE(first->RetireCaGeneration(kNow, &retired).value() == CaChange::kDone);
    }
    REQUIRE(Rollover(*first, round) == CaChange::kDone);
    std::latch start(2);
    CaChange results[2];
    auto race = [&](Store& store, CaChange* out) {
      start.arrive_and_wait();
      int64_t gen = 0;
      auto change = store.ActivateCaGeneration(kNow, &gen);
      REQUIRE_MESSAGE(change.has_value(), (change ? "" : change.error().detail));
      *out = *change;
    };
    std::thread a(race, std::ref(*first), &results[0]);
    std::thread b(race, std::ref(*second), &results[1]);
    a.join();
    b.join();
    CHECK((results[0] == CaChange::kDone) != (results[1] == CaChange::kDone));
    int actives = 0;
    for (const auto& state : States(*first)) actives += state == "active";
    CHECK(actives == 1);
  }
  CheckAudited(*first);
}

TEST_CASE_TEMPLATE("ca generations: cacerts fetches are recorded once and counted by status",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  REQUIRE(Rollover(*store, 2) == CaChange::kDone);
  Issue(*store, EnrollCertificate(1, 1, "device-a", HashHex(1, 'c')));
  Issue(*store, EnrollCertificate(2, 2, "device-b", HashHex(2, 'c')));
  CertificateRecord renewed = EnrollCertificate(3, 3, "device-a", HashHex(1, 'c'));
  ReenrollWith(renewed, EnrollCertificate(1, 1, "device-a", HashHex(1, 'c')));
  renewed.ca_gen = 2;
  Issue(*store, renewed);
  CHECK_FALSE(store->CacertsFetched("device-a", 2).value());
  REQUIRE(store->RecordCacertsFetch("device-a", 2, kNow).has_value());
  REQUIRE(store->RecordCacertsFetch("device-a", 2, "2026-09-05T00:00:00Z").has_value());
  CHECK(store->CacertsFetched("device-a", 2).value());
  CHECK_FALSE(store->CacertsFetched("device-b", 2).value());
  {  // through the group-commit writer, as serve records it
    auto queue = Backend::StartQueue(*store);
    std::promise<Result<void>> done;
    REQUIRE(queue->SubmitCacertsFetch("device-b", 2, kNow,
                                      [&](Result<void> r) { done.set_value(std::move(r)); }));
    REQUIRE(done.get_future().get().has_value());
    std::promise<Result<void>> again;
    REQUIRE(queue->SubmitCacertsFetch("device-b", 2, kNow,
                                      [&](Result<void> r) { again.set_value(std::move(r)); }));
    REQUIRE(again.get_future().get().has_value());
  }
  CHECK(store->CacertsFetched("device-b", 2).value());
  // A fetch by a device with no active certificate is not counted.
  REQUIRE(store->RecordCacertsFetch("device-gone", 2, kNow).has_value());

  auto status = store->CaStatus(kNow).value();
  CHECK(status.active_devices == 2);
  REQUIRE(status.generations.size() == 2);
  CHECK(status.generations[0].devices_holding == 2);  // device-a's first and device-b's
  CHECK(status.generations[0].devices_fetched == 0);
  CHECK(status.generations[1].devices_holding == 1);  // device-a's renewal
  CHECK(status.generations[1].devices_fetched == 2);
  CHECK(status.generations[1].generation.cert_der.empty());
  // After expiry nothing is active.
  auto later = store->CaStatus("2030-01-01T00:00:00Z").value();
  CHECK(later.active_devices == 0);
  CHECK(later.generations[1].devices_fetched == 0);
  CheckAudited(*store);
}

}  // namespace db::testing

namespace db::testing {

// #19 part 3: an intent reserved under generation 1 and interrupted is resumed after `ca activate`
// (the daemon signs it with generation 1, now previous): Reserve answers kResume with it, one
// Complete records the certificate as generation 1's, a second Complete of it is refused, and the
// rows read back (and the CRL's) carry their generation.
TEST_CASE_TEMPLATE("ca generations: an intent reserved before activate completes once after it",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  REQUIRE(Rollover(*store, 2) == CaChange::kDone);
  const std::string fp = HashHex(90, 'f');
  const Intent intent = EnrollIntent(1, 1, "dev-a", fp);
  REQUIRE(store->Reserve(intent, AnyQuota()).value().decision == Decision::kReserved);
  int64_t gen = 0;
  REQUIRE(store->ActivateCaGeneration("2026-09-02T00:00:00Z", &gen).value() == CaChange::kDone);

  Intent retry = EnrollIntent(2, 1, "dev-a", fp);  // the retry's own serial, the same key
  auto resumed = store->Reserve(retry, AnyQuota());
  REQUIRE(resumed.has_value());
  REQUIRE(resumed->decision == Decision::kResume);
  CHECK(resumed->intent->serial_hex == intent.serial_hex);
  CertificateRecord cert = CertificateFor(*resumed->intent);
  cert.ca_gen = 1;
  REQUIRE(store->Complete(cert, SampleEvent("issued", cert.serial_hex)).has_value());
  CHECK_FALSE(store->Complete(cert, SampleEvent("issued", cert.serial_hex)).has_value());
  auto again = store->Reserve(retry, AnyQuota());
  REQUIRE(again.has_value());
  REQUIRE(again->decision == Decision::kAlreadyIssued);
  CHECK(again->existing->serial_hex == intent.serial_hex);
  CHECK(again->existing->ca_gen == 1);
  CHECK(store->FindByDevice("dev-a").value().size() == 1);

  CertificateRecord second = EnrollCertificate(3, 3, "dev-b", HashHex(91, 'f'));
  second.ca_gen = 2;
  Issue(*store, second);
  const Intent left = EnrollIntent(4, 4, "dev-c", HashHex(92, 'f'));
  REQUIRE(store->Reserve(left, AnyQuota()).value().decision == Decision::kReserved);
  for (const std::string& serial : {cert.serial_hex, second.serial_hex, left.serial_hex}) {
    REQUIRE(store->RevokeSerial(serial, 1, kNow).value() == 1);
  }
  auto revoked = store->RevokedUnexpired("2026-01-01T00:00:00Z");
  REQUIRE(revoked.has_value());
  std::map<std::string, int64_t> gens;
  for (const CertificateRecord& r : *revoked) gens[r.serial_hex] = r.ca_gen;
  // A revoked intent records no generation (0): every generation's CRL lists it.
  CHECK(gens == std::map<std::string, int64_t>{
                    {cert.serial_hex, 1}, {second.serial_hex, 2}, {left.serial_hex, 0}});
  CheckAudited(*store);
}

}  // namespace db::testing
