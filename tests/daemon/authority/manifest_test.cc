// manifest_test.cc — the authority's manifest check (daemon/authority/manifest_check.cc, serve
// --require-manifest): a bootstrap certificate in no manifest is refused with not_in_manifest,
// one listed for its device id is issued, one listed under another id is refused with
// manifest_mismatch; serverkeygen is checked as simpleenroll is; renewals and a daemon without
// the flag are not checked. (The refusal's enrollment_events row is written by the EST service:
// tests/e2e/manifest.sh, manifest_pg.sh.)
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "daemon/authority/enrollment.h"
#include "db/manifest_records.h"
#include "tests/daemon/authority/bench.h"

using namespace authoritytest;

namespace {

// Imports batch `name` listing each device (its id, its bootstrap certificate's fingerprint).
void List(Bench& b, const std::string& name, const std::vector<const Device*>& devices,
          const std::string& listed_id = "") {
  db::ManifestImport import{.batch = name,
                            .file_sha256 = std::string(64, 'e'),
                            .rows = {},
                            .imported_at = "2026-09-01T00:00:00Z"};
  int line = 2;
  for (const Device* d : devices) {
    import.rows.push_back({listed_id.empty() ? d->id : listed_id, d->peer.cert->fingerprint, line++});
  }
  auto imported = b.store->ImportManifest(import);
  REQUIRE_MESSAGE(imported.has_value(), (imported ? "" : imported.error().detail));
  REQUIRE(imported->status == db::ManifestImportStatus::kImported);
}

EnrollRequest ManifestKeygen(Bench& b, const Device& d) {
  EnrollRequest r = b.Request(d);
  r.endpoint = "serverkeygen";
  r.server_keygen = true;
  return r;
}

}  // namespace

TEST_CASE("--require-manifest: an unlisted bootstrap certificate is refused, a listed one issued") {
  Bench b;
  b.config.policy.require_manifest = true;
  b.Start();
  Device listed = b.NewDevice();
  Device unlisted = b.NewDevice();
  List(b, "line-a", {&listed});
  EnrollResult r = Expect(b, b.Request(unlisted), EnrollCode::kNotInManifest);
  CHECK(std::string(EnrollCodeName(r.code)) == "not_in_manifest");
  CHECK(r.detail.find(unlisted.peer.cert->fingerprint) != std::string::npos);
  CHECK(r.device_id == unlisted.id);
  CHECK(b.Rows("issuance_intents") == 0);
  CHECK(b.Rows("certificates") == 0);
  Expect(b, b.Request(listed), EnrollCode::kIssued);
  CHECK(b.Rows("certificates", "device_id = '" + listed.id + "'") == 1);
  CHECK(b.Rows("certificates", "device_id = '" + unlisted.id + "'") == 0);
}

TEST_CASE("--require-manifest: a certificate listed under another device id is a mismatch") {
  Bench b;
  b.config.policy.require_manifest = true;
  b.Start();
  Device d = b.NewDevice();
  List(b, "line-b", {&d}, "dev-99999");
  EnrollResult r = Expect(b, b.Request(d), EnrollCode::kManifestMismatch);
  CHECK(r.detail == "certificate names " + d.id + ", batch line-b lists dev-99999");
  CHECK(b.Rows("issuance_intents") == 0);
}

TEST_CASE("--require-manifest applies to serverkeygen: refused before any key is made") {
  Bench b;
  b.config.policy.require_manifest = true;
  b.Start();
  Device listed = b.NewDevice();
  Device unlisted = b.NewDevice();
  Device elsewhere = b.NewDevice();
  List(b, "line-a", {&listed});
  List(b, "line-b", {&elsewhere}, "dev-99999");
  EnrollResult r = Expect(b, ManifestKeygen(b, unlisted), EnrollCode::kNotInManifest);
  CHECK(r.server_key == nullptr);
  r = Expect(b, ManifestKeygen(b, elsewhere), EnrollCode::kManifestMismatch);
  CHECK(r.server_key == nullptr);
  CHECK(b.Rows("issuance_intents") == 0);
  r = Expect(b, ManifestKeygen(b, listed), EnrollCode::kIssued);
  CHECK(r.server_key != nullptr);
  CHECK(b.Rows("certificates") == 1);
}

TEST_CASE("without --require-manifest an unlisted device enrolls, and renewals are never checked") {
  Bench b;
  b.Start();
  Device d = b.NewDevice();
  Device e = b.NewDevice();
  EnrollRequest renewal = Renewal(b, d);  // issued without the flag: d is in no manifest
  Expect(b, ManifestKeygen(b, e), EnrollCode::kIssued);
  // The flag read per request (a reload): the operational certificate renews all the same.
  b.config.policy.require_manifest = true;
  Expect(b, renewal, EnrollCode::kIssued);
  Device f = b.NewDevice();
  Expect(b, b.Request(f), EnrollCode::kNotInManifest);
}
