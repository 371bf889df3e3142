// manifest_test.cc — factory manifests in the store (#19 part 2), on every backend: import, the
// idempotent re-import, conflicts (within a batch and across batches; nothing written), the
// enrollment lookup, the report's counts, and the chained "manifest_imported" state event that
// `audit verify` checks the rows against (a row added behind the store's back is found: SQLite).
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "db/store.h"
#include "tests/db/backend.h"
#include "tests/db/sqlite_fixture.h"

namespace db::testing {
namespace {

constexpr const char* kAt = "2026-09-01T00:00:00Z";
const std::string kFileHash = HashHex(90, 'f');

ManifestImport Batch(const std::string& name, const std::vector<std::pair<std::string, int>>& rows) {
  ManifestImport import{.batch = name, .file_sha256 = kFileHash, .rows = {}, .imported_at = kAt};
  int line = 2;
  for (const auto& [device, n] : rows) import.rows.push_back({device, HashHex(n, 'b'), line++});
  return import;
}

ManifestImportResult ImportOrDie(Store& store, const ManifestImport& import) {
  auto result = store.ImportManifest(import);
  REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().detail));
  return *result;
}

int64_t ManifestEvents(Store& store) {
  int64_t n = 0;
  const std::vector<EventRecord> events = store.RecentEvents(1000).value();
  for (const EventRecord& e : events) n += e.outcome == "manifest_imported";
  return n;
}

TEST_CASE_TEMPLATE("a manifest imports once, and the same rows again are a no-op", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  const ManifestImport a = Batch("line-a", {{"dev-1", 1}, {"dev-2", 2}, {"dev-3", 3}});
  CHECK(ImportOrDie(*store, a).status == ManifestImportStatus::kImported);
  CHECK(ManifestEvents(*store) == 1);
  // The lookup the enrollment makes.
  auto found = store->FindInManifest(HashHex(2, 'b')).value();
  REQUIRE(found.has_value());
  CHECK(found->batch == "line-a");
  CHECK(found->device_id == "dev-2");
  CHECK_FALSE(store->FindInManifest(HashHex(9, 'b')).value().has_value());
  // The same rows, re-ordered (another file hash): unchanged, nothing written.
  ManifestImport again = Batch("line-a", {{"dev-3", 3}, {"dev-1", 1}, {"dev-2", 2}});
  again.file_sha256 = HashHex(91, 'f');
  const int64_t events = EventCount(*store);
  CHECK(ImportOrDie(*store, again).status == ManifestImportStatus::kUnchanged);
  CHECK(EventCount(*store) == events);
  auto report = store->ReportManifests("").value();
  REQUIRE(report.batches.size() == 1);
  CHECK(report.batches[0].expected == 3);
  CHECK(report.batches[0].file_sha256 == kFileHash);
  auto verified = store->VerifyAuditChain().value();
  CHECK_MESSAGE(verified.ok, verified.problem);
}

TEST_CASE_TEMPLATE("a conflicting manifest is refused with its conflicting lines, nothing written",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  REQUIRE(ImportOrDie(*store, Batch("line-a", {{"dev-1", 1}, {"dev-2", 2}})).status ==
          ManifestImportStatus::kImported);
  const int64_t events = EventCount(*store);
  SUBCASE("the same batch with other rows: the new file's extra rows and the stored rows it lacks") {
    auto result = ImportOrDie(*store, Batch("line-a", {{"dev-1", 1}, {"dev-2", 7}}));
    CHECK(result.status == ManifestImportStatus::kConflict);
    REQUIRE(result.conflicts.size() == 2);
    CHECK(result.conflicts[0].line == 3);
    CHECK(result.conflicts[0].device_id == "dev-2");
    CHECK(result.conflicts[1].line == 0);  // stored dev-2 with its first fingerprint
    CHECK(result.conflicts[1].bootstrap_sha256 == HashHex(2, 'b'));
  }
  SUBCASE("another batch naming a device id or a fingerprint already listed") {
    auto result =
        ImportOrDie(*store, Batch("line-b", {{"dev-9", 9}, {"dev-1", 8}, {"dev-7", 2}, {"dev-2", 2}}));
    CHECK(result.status == ManifestImportStatus::kConflict);
    REQUIRE(result.conflicts.size() == 3);
    CHECK(result.conflicts[0].line == 3);
    CHECK(result.conflicts[0].why.find("device id already in batch \"line-a\"") == 0);
    CHECK(result.conflicts[1].line == 4);
    CHECK(result.conflicts[1].why.find("bootstrap_sha256 already in batch \"line-a\" for device "
                                       "dev-2") == 0);
    CHECK(result.conflicts[2].line == 5);  // the same pairing in another batch: one batch only
    CHECK_FALSE(store->FindInManifest(HashHex(9, 'b')).value().has_value());  // dev-9 not written
    CHECK(store->ReportManifests("line-b").value().batches.empty());
  }
  CHECK(EventCount(*store) == events);
  CHECK(store->ReportManifests("").value().batches.size() == 1);
}

TEST_CASE_TEMPLATE("a malformed import is a constraint error", Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  ManifestImport upper = Batch("x", {{"dev-1", 1}});
  upper.rows[0].bootstrap_sha256 = std::string(64, 'A');  // the parser lowercases; the store checks
  ManifestImport empty = Batch("x", {});
  ManifestImport unnamed = Batch("", {{"dev-1", 1}});
  for (const ManifestImport& bad : {upper, empty, unnamed}) {
    auto result = store->ImportManifest(bad);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == Code::kConstraint);
  }
  CHECK(store->ReportManifests("").value().batches.empty());
}

TEST_CASE_TEMPLATE("the report counts expected, enrolled, never seen and unknown attempts", Backend,
                   PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto store = Backend::Open(dir);
  // dev-1 enrolled (and renewed), dev-2 refused once, dev-3 pending, dev-4 never seen; line-b's
  // dev-5 enrolled.
  REQUIRE(ImportOrDie(*store, Batch("line-a", {{"dev-1", 1}, {"dev-2", 2}, {"dev-3", 3}, {"dev-4", 4}}))
              .status == ManifestImportStatus::kImported);
  REQUIRE(ImportOrDie(*store, Batch("line-b", {{"dev-5", 5}})).status ==
          ManifestImportStatus::kImported);
  CertificateRecord first = EnrollCertificate(1, 1, "dev-1", HashHex(1, 'b'));
  Issue(*store, first);
  CertificateRecord renewed = EnrollCertificate(2, 2, "dev-1", HashHex(1, 'b'));
  ReenrollWith(renewed, first);
  Issue(*store, renewed);
  EventRecord refused = SampleEvent("rejected");
  refused.presented_fingerprint = HashHex(2, 'b');
  REQUIRE(store->RecordEvent(refused).has_value());
  REQUIRE(store->Reserve(EnrollIntent(3, 3, "dev-3", HashHex(3, 'b')), {}).value().decision ==
          Decision::kReserved);
  Issue(*store, EnrollCertificate(5, 5, "dev-5", HashHex(5, 'b')));
  // Unknown: two attempts by one certificate, one by another; a renewal's event presents our own
  // certificate and is not unknown. (The fixture's issued events present one sample fingerprint,
  // in no manifest: counted before.)
  const ManifestReport before = store->ReportManifests("").value();
  for (int n : {70, 70, 71}) {
    EventRecord unknown = SampleEvent("rejected");
    unknown.presented_fingerprint = HashHex(n, 'e');
    REQUIRE(store->RecordEvent(unknown).has_value());
  }
  EventRecord renewal = SampleEvent("rejected");
  renewal.presented_fingerprint = first.fingerprint_sha256;
  REQUIRE(store->RecordEvent(renewal).has_value());

  auto report = store->ReportManifests("").value();
  REQUIRE(report.batches.size() == 2);
  const ManifestBatchCounts& a = report.batches[0];
  CHECK(a.batch == "line-a");
  CHECK(a.expected == 4);
  CHECK(a.enrolled == 1);
  CHECK(a.never_seen == 1);
  CHECK(report.batches[1].batch == "line-b");
  CHECK(report.batches[1].enrolled == 1);
  CHECK(report.batches[1].never_seen == 0);
  CHECK(report.unknown_attempts - before.unknown_attempts == 3);
  CHECK(report.unknown_certificates - before.unknown_certificates == 2);
  auto one = store->ReportManifests("line-b").value();
  REQUIRE(one.batches.size() == 1);
  CHECK(one.batches[0].expected == 1);
  auto verified = store->VerifyAuditChain().value();
  CHECK_MESSAGE(verified.ok, verified.problem);
}

TEST_CASE("audit verify finds a manifest row added, or a batch edited, behind the store's back") {
  TempDir dir;
  auto store = SqliteBackend::Open(dir);
  REQUIRE(ImportOrDie(*store, Batch("line-a", {{"dev-1", 1}})).status ==
          ManifestImportStatus::kImported);
  auto raw = OpenRaw(dir.File("store.db"));
  SUBCASE("a row added") {
    ExecRaw(raw.get(), "INSERT INTO manifest_devices VALUES (1, 'evil', X'" + HashHex(66, 'b') + "')");
  }
  SUBCASE("a fingerprint changed") {
    ExecRaw(raw.get(), "UPDATE manifest_devices SET bootstrap_sha256 = X'" + HashHex(66, 'b') + "'");
  }
  SUBCASE("a batch added") {
    ExecRaw(raw.get(), "INSERT INTO manifest_batches (name, file_sha256, row_count, imported_at) "
                       "VALUES ('b2', '" + kFileHash + "', 1, '" + kAt + "')");
  }
  auto report = store->VerifyAuditChain().value();
  CHECK_FALSE(report.ok);
  CHECK(report.problem.find("manifest batch") != std::string::npos);
}

TEST_CASE_TEMPLATE("two imports of one batch at once: one imports, the other finds it unchanged",
                   Backend, PROVISIOND_DB_BACKENDS) {
  TempDir dir;
  auto first = Backend::Open(dir);
  auto second = Backend::Open(dir);  // another connection (another process or replica)
  const ManifestImport batch = Batch("line-a", {{"dev-1", 1}, {"dev-2", 2}});
  ManifestImportResult r1, r2;
  std::thread t1([&] { r1 = first->ImportManifest(batch).value(); });
  std::thread t2([&] { r2 = second->ImportManifest(batch).value(); });
  t1.join();
  t2.join();
  const int imported = (r1.status == ManifestImportStatus::kImported) +
                       (r2.status == ManifestImportStatus::kImported);
  CHECK(imported == 1);
  CHECK((r1.status == ManifestImportStatus::kUnchanged || r2.status == ManifestImportStatus::kUnchanged));
  CHECK(ManifestEvents(*first) == 1);
}

}  // namespace
}  // namespace db::testing
