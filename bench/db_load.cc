// db_load.cc — the issuance workload of the store benchmarks (db_load.h).
#include "bench/db_load.h"

#include <pthread.h>

#include <future>
#include <memory>
#include <semaphore>
#include <thread>
#include <utility>
#include <vector>

namespace bench {
namespace {

std::string Hex(uint64_t n, size_t width) {
  std::string out(width, '0');
  for (size_t i = width; i-- > 0 && n != 0; n >>= 4) out[i] = "0123456789abcdef"[n & 15];
  return out;
}

}  // namespace

std::atomic<uint64_t> next_issuance{1'000'000};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

db::EventRecord Event(const std::string& outcome, const std::string& serial) {
  return db::EventRecord{.time = "2026-08-29T07:50:28Z",
                         .peer = "127.0.0.1:53122",
                         .presented_fingerprint = std::string(64, 'c'),
                         .presented_subject = "CN=device",
                         .device_id = "device",
                         .endpoint = "simpleenroll",
                         .outcome = outcome,
                         .http_status = outcome == "issued" ? 200 : 403,
                         .reason = outcome == "issued" ? "" : "refused",
                         .serial_hex = serial};
}

db::Intent IntentFor(uint64_t n) {
  // 16 bytes, first byte 0x40 as ca::RandomSerial makes them (positive, no leading zero byte):
  // the CRL encoder refuses a serial that is not a minimal DER INTEGER.
  return db::Intent{.serial_hex = "40" + Hex(n, 30),
                    .device_id = "device-" + std::to_string(n),
                    .kind = "enroll",
                    .public_key_sha256 = Hex(n, 64),
                    .auth_cert_fingerprint = Hex(n, 63).insert(0, 1, 'c'),
                    .auth_cert_issuer = "CN=Bootstrap CA",
                    .auth_cert_serial = Hex(n, 8),
                    .tbs = std::vector<unsigned char>(400, 0x30),
                    .not_after = "2027-08-29T07:50:28Z",
                    .peer = "127.0.0.1:53122",
                    .created_at = "2026-08-29T07:50:28Z",
                    .status = "pending"};
}

db::CertificateRecord CertificateFor(const db::Intent& intent) {
  return db::CertificateRecord{
      .serial_hex = intent.serial_hex,
      .device_id = intent.device_id,
      .subject = "CN=" + intent.device_id,
      .san = "DNS:" + intent.device_id + ".devices.example",
      .not_before = "2026-08-29T07:45:28Z",
      .not_after = intent.not_after,
      .der = std::vector<unsigned char>(600, 0x30),
      .fingerprint_sha256 = intent.public_key_sha256.substr(1).insert(0, 1, 'f'),
      .public_key_sha256 = intent.public_key_sha256,
      .auth_cert_issuer = intent.auth_cert_issuer,
      .auth_cert_serial = intent.auth_cert_serial,
      .auth_cert_fingerprint = intent.auth_cert_fingerprint,
      .kind = intent.kind,
      .peer = intent.peer,
      .issued_at = "2026-08-29T07:50:28Z"};
}

uint64_t RunLoad(const LoadShape& shape,
                 std::function<void(int, std::function<void()>)> start_one) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> finished{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < shape.threads; ++t) {
    threads.emplace_back([&, t] {
      auto slots = std::make_shared<std::counting_semaphore<1024>>(shape.inflight);
      while (!stop.load()) {
        if (!slots->try_acquire_for(std::chrono::milliseconds(50))) continue;
        start_one(t, [slots, &finished] {
          ++finished;
          slots->release();
        });
      }
      for (int i = 0; i < shape.inflight; ++i) slots->acquire();  // wait for this thread's own
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(shape.seconds));
  stop = true;
  for (std::thread& thread : threads) thread.join();
  return finished.load();
}

void SubmitIssuance(db::Writer& writer, std::function<void(bool, double)> finished) {
  db::Intent intent = IntentFor(next_issuance++);
  db::CertificateRecord cert = CertificateFor(intent);
  Clock::time_point submitted = Clock::now();
  auto done = [finished, submitted](bool ok) {
    finished(ok, Seconds(Clock::now() - submitted) * 1000);
  };
  bool queued = writer.SubmitReserve(
      intent, db::IssuancePolicy{},
      [&writer, cert = std::move(cert), done](db::Result<db::IssueOutcome> reserved) {
        if (!reserved || reserved->decision != db::Decision::kReserved) return done(false);
        bool again = writer.SubmitComplete(
            cert, Event("issued", cert.serial_hex),
            [done](db::Result<void> completed) { done(completed.has_value()); });
        if (!again) done(false);
      });
  if (!queued) done(false);
}

clockid_t WriterCpuClock(db::Writer& writer) {
  std::promise<clockid_t> clock;
  bool queued = writer.SubmitEvent(Event("rejected", ""), [&clock](db::Result<void>) {
    clockid_t id = CLOCK_MONOTONIC;
    pthread_getcpuclockid(pthread_self(), &id);
    clock.set_value(id);
  });
  return queued ? clock.get_future().get() : CLOCK_MONOTONIC;
}

double CpuMs(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return double(now.tv_sec) * 1000 + double(now.tv_nsec) / 1e6;
}

}  // namespace bench
