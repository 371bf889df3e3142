// bench.h — the authority's test bench: a real SQLite store and db::Writer in a temp dir, an
// issuing CA, a fake clock, an executor drained by hand, a queue and an RNG that fail on command.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "ca/cert.h"
#include "ca/encoding.h"
#include "ca/issuer.h"
#include "daemon/authority/enrollment.h"
#include "daemon/authority/time_source.h"
#include "daemon/config.h"
#include "db/issuance_queue.h"
#include "db/writer.h"
#include "device-sim/csr_builder.h"
#include "tests/ca/test_util.h"
#include "tests/db/sqlite_fixture.h"

namespace authoritytest {

using namespace provisiond;

// Wall time starts at catest::kNow; both clocks move only with Advance. Like the system's, the
// monotonic clock never steps back: a negative Advance moves the wall clock alone.
class FakeTime : public TimeSource {
 public:
  base::UnixTime Now() const override { return now_.load(); }
  Monotonic Steady() const override { return Monotonic{} + std::chrono::seconds(steady_.load()); }
  void Advance(base::UnixTime seconds) {
    now_ += seconds;
    if (seconds > 0) steady_ += seconds;
  }

 private:
  std::atomic<base::UnixTime> now_{catest::kNow};
  std::atomic<int64_t> steady_{1000000};
};

// The Executor: the writer thread posts here; the test runs the closures on its own thread.
class Inbox {
 public:
  Executor executor() {
    return [this](std::function<void()> fn) {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(fn));
      cv_.notify_all();
    };
  }
  // Runs posted closures, in order, until done() holds; fails the test after 10 s without one.
  void RunUntil(const std::function<bool()>& done) {
    while (!done()) {
      std::unique_lock lock(mu_);
      REQUIRE(cv_.wait_for(lock, std::chrono::seconds(10), [&] { return !queue_.empty(); }));
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      fn();
    }
  }
  // Waits (up to 10 s) until something is posted, without running it.
  void WaitPosted() {
    std::unique_lock lock(mu_);
    REQUIRE(cv_.wait_for(lock, std::chrono::seconds(10), [&] { return !queue_.empty(); }));
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
};

// The real writer, with each phase refusable on command (as a full queue refuses: false, no done).
class FaultyQueue : public db::IssuanceQueue {
 public:
  explicit FaultyQueue(db::Writer& writer) : writer_(writer) {}
  bool SubmitReserve(db::Intent intent, db::IssuancePolicy policy,
                     std::function<void(db::Result<db::IssueOutcome>)> done) override {
    return !refuse_reserve && writer_.SubmitReserve(std::move(intent), policy, std::move(done));
  }
  bool SubmitComplete(db::CertificateRecord cert, db::EventRecord event,
                      std::function<void(db::Result<void>)> done) override {
    return !refuse_complete &&
           writer_.SubmitComplete(std::move(cert), std::move(event), std::move(done));
  }
  bool SubmitEvent(db::EventRecord event, std::function<void(db::Result<void>)> done) override {
    return writer_.SubmitEvent(std::move(event), std::move(done));
  }
  bool SubmitCacertsFetch(std::string device_id, int64_t gen, std::string at,
                          std::function<void(db::Result<void>)> done) override {
    return writer_.SubmitCacertsFetch(std::move(device_id), gen, std::move(at), std::move(done));
  }
  bool refuse_reserve = false;
  bool refuse_complete = false;

 private:
  db::Writer& writer_;
};

// A deterministic DRBG that can be made to fail (ECDSA signing draws blinding values from it).
struct FailingRng {
  std::unique_ptr<ca::Drbg> drbg = catest::MakeDrbg("authority-bench-rng");
  bool fail = false;
  static int Fill(void* self, unsigned char* out, size_t len) {
    auto* me = static_cast<FailingRng*>(self);
    if (me->fail) return -1;
    ca::Rng inner = me->drbg->rng();
    return inner.fill(inner.state, out, len);
  }
  ca::Rng rng() { return ca::Rng{&Fill, this}; }
};

// A device: its bootstrap identity (as the TLS layer would fill it) and a key for its CSRs.
struct Device {
  std::string id;
  std::unique_ptr<ca::PrivateKey> key;            // for its CSRs
  std::unique_ptr<ca::PrivateKey> bootstrap_key;  // the key of its bootstrap certificate
  PeerIdentity peer;
};

struct Bench {
  db::testing::TempDir dir;
  std::string path = dir.File("provisiond.db");
  // The concrete store OpenOrDie opens (db::Writer writes through its second connection).
  decltype(db::testing::OpenOrDie(path)) store = db::testing::OpenOrDie(path);
  std::unique_ptr<db::Store> reader = db::testing::OpenOrDie(path);
  Inbox inbox;  // outlives the writer, whose last completions post here
  std::unique_ptr<db::Writer> writer = std::make_unique<db::Writer>(*store);
  FaultyQueue queue{*writer};
  FakeTime time;
  FailingRng rng;
  std::unique_ptr<ca::Drbg> drbg = catest::MakeDrbg("authority-bench");
  catest::TestCa root = catest::MakeCa(drbg->rng(), catest::kNow + 3650 * catest::kDay,
                                       "CN=provisiond CA");
  std::unique_ptr<ca::Issuer> issuer;
  ServeConfig config;
  std::unique_ptr<EnrollShared> shared;
  std::unique_ptr<Enroller> enroller;
  int devices = 0;

  Bench() {
    auto loaded = ca::Issuer::Load(root.cert_pem, root.key_pem, drbg->rng());
    REQUIRE_MESSAGE(loaded.has_value(), (loaded ? "" : loaded.error().detail));
    issuer = std::move(*loaded);
  }
  ~Bench() {
    // The writer first: it runs what is queued, and its completions (which hold the executor,
    // not the enroller) land in inbox, never run; then the enroller.
    writer.reset();
    enroller.reset();
  }

  // Builds the shared state from `config` as it is now (the limiters read its rates once).
  void Start() {
    shared.reset(new EnrollShared{&config, queue, time, RateLimiter(config.policy.device_rate),
                                  RateLimiter(config.policy.address_rate)});
    enroller = std::make_unique<Enroller>(*shared, *issuer, rng.rng(), inbox.executor(), *reader);
  }

  Device NewDevice(std::string id = "") {
    Device d;
    const int n = ++devices;
    d.id = id.empty() ? "dev-" + std::to_string(n) : id;
    d.key = catest::NewP256(drbg->rng());
    d.bootstrap_key = catest::NewP256(drbg->rng());
    d.peer.kind = AuthKind::kBootstrap;
    d.peer.cert = PresentedCert{
        .subject = "CN=" + d.id,
        .not_after = catest::kNow + 3650 * catest::kDay,
        .issuer = "CN=Maker CA",
        .serial_hex = db::testing::SerialHex(n),
        .fingerprint = db::testing::HashHex(n, 'f'),
        .public_key_der = catest::PublicDer(*d.bootstrap_key->pk()),
    };
    d.peer.device_id = d.id;
    d.peer.tls_version = "TLSv1.3";
    d.peer.tls13 = true;
    d.peer.channel_binding = "Y2hhbm5lbC1iaW5kaW5nLW9mLXRoaXMtY29ubmVjdGlvbg==";
    d.peer.anchor_subject = "CN=Maker CA";
    d.peer.anchor_key_sha256 = std::string(64, 'a');
    return d;
  }

  // Base64 of a CSR for `id` signed by `key` (with a challengePassword if given).
  std::string Csr(ca::PrivateKey& key, const std::string& id, const std::string& challenge = "") {
    auto der = challenge.empty() ? devsim::BuildCsr(id, key, drbg->rng())
                                 : devsim::BuildCsrWithChallenge(id, key, drbg->rng(), challenge);
    REQUIRE(der.has_value());
    return ca::Base64Encode(*der, true);
  }

  EnrollRequest Request(const Device& d, bool reenroll = false) {
    return EnrollRequest{
        .reenroll = reenroll,
        .endpoint = reenroll ? "simplereenroll" : "simpleenroll",
        .profile = &config.default_profile,
        .content_type = "application/pkcs10",
        .body = Csr(*d.key, d.id),
        .peer = d.peer,
        .peer_address = "127.0.0.1:40000",
    };
  }

  // Enroll, and if the result comes later, run the inbox until it has come.
  EnrollResult Run(const EnrollRequest& request) {
    std::optional<EnrollResult> later;
    auto now = enroller->Enroll(request, [&later](EnrollResult r) { later = std::move(r); });
    if (now) return *now;
    inbox.RunUntil([&] { return later.has_value(); });
    return *later;
  }

  // The operational identity of an issued certificate, as the TLS layer would describe it.
  static PeerIdentity Operational(const base::Bytes& der, const std::string& id) {
    auto chain = ca::ParseCertificates(catest::AsText(der));
    REQUIRE(chain.has_value());
    const mbedtls_x509_crt& crt = *(*chain)->get();
    PeerIdentity p;
    p.kind = AuthKind::kOperational;
    p.cert = PresentedCert{.subject = ca::DnString(crt.subject),
                           .not_after = ca::ToUnixTime(crt.valid_to),
                           .issuer = ca::DnString(crt.issuer),
                           .serial_hex = ca::CertSerialHex(crt),
                           .fingerprint = ca::CertFingerprint(crt),
                           .public_key_der = catest::PublicDer(crt.pk)};
    p.device_id = id;
    p.tls_version = "TLSv1.3";
    p.tls13 = true;
    return p;
  }

  int64_t Rows(const std::string& table, const std::string& where = "1") {
    auto raw = db::testing::OpenRaw(path);
    return db::testing::QueryRawInt(raw.get(), "SELECT count(*) FROM " + table + " WHERE " + where);
  }
};

// The result of `request` (run to its end), checked to be `want`; a refusal carries no certificate.
inline EnrollResult Expect(Bench& b, const EnrollRequest& request, EnrollCode want) {
  EnrollResult r = b.Run(request);
  CHECK_MESSAGE(r.code == want, (std::string(EnrollCodeName(r.code)) + " (" + r.detail +
                                 "), want " + EnrollCodeName(want)));
  if (r.code != EnrollCode::kIssued && r.code != EnrollCode::kAlreadyIssued) CHECK(r.der.empty());
  return r;
}

// Runs `sql` on a connection of its own (a trigger, a schema change behind the store's back).
inline void Exec(Bench& b, const std::string& sql) {
  auto raw = db::testing::OpenRaw(b.path);
  db::testing::ExecRaw(raw.get(), sql);
}

// The serial of the one pending intent ("" when there is none).
inline std::string PendingSerial(Bench& b) {
  auto raw = db::testing::OpenRaw(b.path);
  return db::testing::QueryRaw(raw.get(),
                               "SELECT serial FROM issuance_intents WHERE status = 'pending'");
}

// Leaves one pending intent for `request`: its Reserve commits, then signing fails (the RNG ECDSA
// draws its blinding values from refuses). Returns the intent's serial.
inline std::string InterruptedBySigning(Bench& b, const EnrollRequest& request) {
  std::optional<EnrollResult> later;
  auto now = b.enroller->Enroll(request, [&later](EnrollResult r) { later = std::move(r); });
  REQUIRE_FALSE(now.has_value());  // Prepare drew its serial; Reserve is queued
  b.rng.fail = true;
  b.inbox.RunUntil([&] { return later.has_value(); });
  b.rng.fail = false;
  CHECK(later->code == EnrollCode::kInternal);
  CHECK(later->detail.starts_with("signing "));
  CHECK(later->der.empty());
  return PendingSerial(b);
}

// The bench's RNG, except that the next `repeats` serial draws (ca::RandomSerial fills 16 bytes;
// ECDSA signing draws 32-byte scalars) all yield `serial`: a serial collision made to happen.
struct RepeatingSerialRng {
  FailingRng& inner;
  base::Bytes serial = base::Bytes(16, 0x5a);
  int repeats = 0;
  int serial_draws = 0;
  static int Fill(void* self, unsigned char* out, size_t len) {
    auto* me = static_cast<RepeatingSerialRng*>(self);
    if (len == me->serial.size()) {
      ++me->serial_draws;
      if (me->repeats > 0) {
        --me->repeats;
        std::copy(me->serial.begin(), me->serial.end(), out);
        return 0;
      }
    }
    return FailingRng::Fill(&me->inner, out, len);
  }
  ca::Rng rng() { return ca::Rng{&Fill, this}; }
};

// Enrolls d with `enrollment` (must be issued), then makes d present the operational certificate
// and hold a new key; returns the renewal request (default profile).
inline EnrollRequest Renewal(Bench& b, Device& d, const EnrollRequest& enrollment) {
  EnrollResult issued = b.Run(enrollment);
  REQUIRE_MESSAGE(issued.code == EnrollCode::kIssued, issued.detail);
  d.peer = Bench::Operational(issued.der, d.id);
  d.key = catest::NewP256(b.drbg->rng());
  return b.Request(d, /*reenroll=*/true);
}
inline EnrollRequest Renewal(Bench& b, Device& d) { return Renewal(b, d, b.Request(d)); }

}  // namespace authoritytest
