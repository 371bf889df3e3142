// crl_service_test.cc — tests daemon/crl_service.cc against a real SQLite store: the first CRL,
// a revocation from another connection served within the poll, and a CA key out of reach
// (kUnavailable): the previous CRL stays served, nothing unsigned appears, and the next tick after
// the key is back publishes.
#include "daemon/crl_service.h"

#include <doctest/doctest.h>
#include <mbedtls/x509_crl.h>

#include <mbedtls/sha256.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <thread>

#include "base/scoped.h"
#include "daemon/crl_build.h"
#include "daemon/net.h"
#include "db/sqlite_store.h"
#include "tests/ca/test_util.h"
#include "tests/db/store_fixture.h"

namespace provisiond {
namespace {

using Clock = std::chrono::steady_clock;
using Crl = base::Scoped<mbedtls_x509_crl, mbedtls_x509_crl_init, mbedtls_x509_crl_free>;

// The file key, or kUnavailable while *down (a token pulled out).
class SwitchableKey : public ca::CaKey {
 public:
  SwitchableKey(std::unique_ptr<ca::CaKey> inner, const std::atomic<bool>* down)
      : inner_(std::move(inner)), down_(down) {}
  const base::Bytes& PublicKeyDer() const override { return inner_->PublicKeyDer(); }
  ca::Result<base::Bytes> SignDigest(std::span<const unsigned char, ca::kSha256Bytes> digest,
                                     ca::Rng rng) override {
    if (down_->load()) return ca::Fail(ca::Code::kUnavailable, "token removed");
    return inner_->SignDigest(digest, rng);
  }
  const char* Kind() const override { return "test"; }

 private:
  std::unique_ptr<ca::CaKey> inner_;
  const std::atomic<bool>* down_;
};

db::CertificateRecord Cert(int n) {
  // A positive, minimal serial, as the certificate's INTEGER (SerialHex pads with zeros).
  const std::string serial = "7f" + db::testing::SerialHex(n).substr(2);
  db::CertificateRecord cert = db::testing::SampleCertificate(serial, "dev-" + std::to_string(n));
  cert.public_key_sha256 = db::testing::HashHex(n);
  cert.not_after = "2099-01-01T00:00:00Z";
  return cert;
}

// Waits up to `limit` for the served CRL to satisfy pred.
template <typename Pred>
std::shared_ptr<const PublishedCrl> WaitFor(CrlService& service, Pred pred,
                                            std::chrono::milliseconds limit) {
  const auto until = Clock::now() + limit;
  for (;;) {
    auto crl = service.Current();
    if (crl && pred(*crl)) return crl;
    if (Clock::now() > until) return nullptr;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// The SHA-256 of a CRL's TBS (its signature's input).
std::array<unsigned char, 32> Digest(const mbedtls_x509_crl& crl) {
  std::array<unsigned char, 32> out{};
  mbedtls_sha256(crl.tbs.p, crl.tbs.len, out.data(), 0);
  return out;
}

}  // namespace

TEST_CASE(
    "the CRL service publishes, follows revocations, and keeps the last CRL while the key is out") {
  db::testing::TempDir dir;
  const std::string path = dir.File("crl.db");
  auto admin = db::SqliteStore::Open(path);
  REQUIRE(admin.has_value());
  for (int i = 1; i <= 3; ++i) db::testing::Issue(**admin, Cert(i));
  auto own = db::SqliteStore::Open(path);
  REQUIRE(own.has_value());

  auto drbg = catest::MakeDrbg("crl service");
  catest::TestCa ca = catest::MakeCa(drbg->rng());
  std::atomic<bool> down{false};
  CaKeyFactory keys = [&](ca::Rng rng) -> base::Result<std::unique_ptr<ca::CaKey>> {
    return std::make_unique<SwitchableKey>(catest::FileKey(*ca.key, rng), &down);
  };
  auto fd = ListenTcp("127.0.0.1:0", 8);
  REQUIRE(fd.has_value());
  auto service = CrlService::Start(std::move(*own), ca.cert_pem, keys,
                                   CrlServiceOptions{.period = std::chrono::seconds(3600),
                                                     .poll = std::chrono::milliseconds(50),
                                                     .retry = std::chrono::milliseconds(100)},
                                   std::move(*fd));
  REQUIRE(service.has_value());
  CrlService& s = **service;

  auto first = WaitFor(
      s, [](const PublishedCrl&) { return true; }, std::chrono::seconds(5));
  REQUIRE(first);
  CHECK(first->entries == 0);
  CHECK(first->next_regeneration == first->this_update + 3600);

  REQUIRE((*admin)->RevokeSerial(Cert(1).serial_hex, 1, "2026-09-01T00:00:00Z").value() == 1);
  auto second = WaitFor(
      s, [](const PublishedCrl& c) { return c.entries == 1; }, std::chrono::seconds(2));
  REQUIRE(second);
  CHECK(second->number > first->number);
  Crl parsed;
  REQUIRE(mbedtls_x509_crl_parse_der(parsed.get(),
                                     reinterpret_cast<const unsigned char*>(second->der.data()),
                                     second->der.size()) == 0);

  down = true;  // the token is pulled out: the revocation below cannot be signed
  REQUIRE((*admin)->RevokeSerial(Cert(2).serial_hex, 1, "2026-09-01T00:00:00Z").value() == 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto kept = s.Current();
  REQUIRE(kept);
  CHECK(kept.get() == second.get());  // the same CRL object, still served
  down = false;
  auto third = WaitFor(
      s, [](const PublishedCrl& c) { return c.entries == 2; }, std::chrono::seconds(2));
  REQUIRE(third);
  CHECK(third->number > second->number);
}

TEST_CASE("CrlFromStore: entries with their INTEGER contents, kept one period past expiry") {
  db::testing::TempDir dir;
  auto store = db::SqliteStore::Open(dir.File("build.db"));
  REQUIRE(store.has_value());
  db::CertificateRecord high = Cert(1), expired = Cert(2), old = Cert(3);
  high.serial_hex = "8f00ab12";  // stored without the sign byte (README, "Serials")
  expired.not_after = "2026-05-01T00:00:00Z";
  old.not_after = "2026-04-01T00:00:00Z";
  for (const auto& c : {high, expired, old}) {
    db::testing::Issue(**store, c);
    REQUIRE((*store)->RevokeSerial(c.serial_hex, 4, "2026-03-01T00:00:00Z").value() == 1);
  }
  const base::UnixTime may_2 = 1777680000;  // 2026-05-02T00:00:00Z
  auto crl = CrlFromStore(**store, may_2, 7200, 3 * 86400);
  REQUIRE(crl.has_value());
  CHECK(crl->spec.next_update == may_2 + 7200);
  REQUIRE(crl->spec.revoked.size() == 2);  // `old` expired more than 3 days before
  CHECK(crl->spec.revoked[0].serial ==
        base::Bytes{0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
  CHECK(crl->spec.revoked[1].serial == base::Bytes{0x00, 0x8f, 0x00, 0xab, 0x12});
  CHECK(crl->spec.revoked[1].reason == 4);
  auto drbg = catest::MakeDrbg("crl build");
  catest::TestCa ca = catest::MakeCa(drbg->rng());
  auto crt = catest::Parse(ca.der);
  auto key = catest::FileKey(*ca.key, drbg->rng());
  CHECK(ca::SignCrl(crl->spec, *crt->get(), *key, drbg->rng()).has_value());
  auto next = CrlFromStore(**store, may_2, 7200, 0);
  REQUIRE(next.has_value());
  CHECK(next->number == crl->number + 1);
  CHECK(next->spec.revoked.size() == 1);
}

TEST_CASE("the CRL service signs one CRL per generation, each listing its own certificates") {
  db::testing::TempDir dir;
  const std::string path = dir.File("gens.db");
  auto admin = db::SqliteStore::Open(path);
  REQUIRE(admin.has_value());
  db::CertificateRecord one = Cert(1), two = Cert(2), three = Cert(3);
  two.ca_gen = 2;
  three.ca_gen = 2;
  for (const auto& c : {one, two, three}) db::testing::Issue(**admin, c);
  for (const auto& c : {one, two}) {
    REQUIRE((*admin)->RevokeSerial(c.serial_hex, 1, "2026-09-01T00:00:00Z").value() == 1);
  }
  auto own = db::SqliteStore::Open(path);
  REQUIRE(own.has_value());
  auto drbg = catest::MakeDrbg("crl generations");
  catest::TestCa ca1 = catest::MakeCa(drbg->rng());
  catest::TestCa ca2 = catest::MakeCa(drbg->rng());
  auto gen = [&](int64_t n, const catest::TestCa& ca) {
    return CrlGeneration{.gen = n, .ca_cert_pem = ca.cert_pem,
                         .keys = [&ca](ca::Rng rng) -> base::Result<std::unique_ptr<ca::CaKey>> {
                           return catest::FileKey(*ca.key, rng);
                         }};
  };
  std::vector<CrlGeneration> both;
  both.push_back(gen(1, ca1));
  both.push_back(gen(2, ca2));
  auto fd = ListenTcp("127.0.0.1:0", 8);
  REQUIRE(fd.has_value());
  auto service = CrlService::Start(std::move(*own), std::move(both),
                                   CrlServiceOptions{.poll = std::chrono::milliseconds(50)},
                                   std::move(*fd));
  REQUIRE(service.has_value());
  CrlService& s = **service;
  auto first = WaitFor(s, [](const PublishedCrl&) { return true; }, std::chrono::seconds(5));
  std::shared_ptr<const PublishedCrl> second;
  for (int i = 0; i < 500 && !second; ++i) {
    second = s.Current(2);
    if (!second) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->entries == 1);   // generation 1's revoked certificate alone
  CHECK(second->entries == 1);  // generation 2's
  CHECK(first->number != second->number);  // one counter for both
  Crl c1, c2;
  REQUIRE(mbedtls_x509_crl_parse_der(c1.get(), reinterpret_cast<const unsigned char*>(first->der.data()),
                                     first->der.size()) == 0);
  REQUIRE(mbedtls_x509_crl_parse_der(c2.get(), reinterpret_cast<const unsigned char*>(second->der.data()),
                                     second->der.size()) == 0);
  auto serial_of = [](const Crl& crl) {
    return std::string(reinterpret_cast<const char*>(crl.get()->entry.serial.p),
                       crl.get()->entry.serial.len);
  };
  CHECK(serial_of(c1) != serial_of(c2));
  // Each verifies under its own CA only.
  auto crt1 = catest::Parse(ca1.der);
  auto crt2 = catest::Parse(ca2.der);
  CHECK(mbedtls_pk_verify(&crt1->get()->pk, c1.get()->MBEDTLS_PRIVATE(sig_md),
                          Digest(*c1.get()).data(), 32, c1.get()->MBEDTLS_PRIVATE(sig).p,
                          c1.get()->MBEDTLS_PRIVATE(sig).len) == 0);
  CHECK(mbedtls_pk_verify(&crt2->get()->pk, c1.get()->MBEDTLS_PRIVATE(sig_md),
                          Digest(*c1.get()).data(), 32, c1.get()->MBEDTLS_PRIVATE(sig).p,
                          c1.get()->MBEDTLS_PRIVATE(sig).len) != 0);
  CHECK(mbedtls_pk_verify(&crt2->get()->pk, c2.get()->MBEDTLS_PRIVATE(sig_md),
                          Digest(*c2.get()).data(), 32, c2.get()->MBEDTLS_PRIVATE(sig).p,
                          c2.get()->MBEDTLS_PRIVATE(sig).len) == 0);

  // Generation 1 retired: no longer served; generation 2 signed again.
  std::vector<CrlGeneration> only2;
  only2.push_back(gen(2, ca2));
  REQUIRE(s.SetGenerations(std::move(only2)).has_value());
  CHECK(s.Current(1) == nullptr);
  std::shared_ptr<const PublishedCrl> resigned;
  for (int i = 0; i < 500; ++i) {
    resigned = s.Current(2);
    if (resigned && resigned->number > std::max(first->number, second->number)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(resigned);
  CHECK(resigned->number > std::max(first->number, second->number));
  CHECK(resigned->entries == 1);
}

}  // namespace provisiond
