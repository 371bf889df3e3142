// admin.cc — operator commands on the state directory (see admin.h).
#include "daemon/admin.h"

#include <psa/crypto.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

#include "ca/cert.h"
#include "ca/crl.h"
#include "ca/encoding.h"
#include "ca/keys.h"
#include "daemon/admin_audit.h"
#include "daemon/admin_json.h"
#include "daemon/authority/rate_limiter.h"
#include "daemon/ca_key_source.h"
#include "daemon/cli_checks.h"
#include "daemon/cli_error.h"
#include "daemon/config.h"
#include "daemon/files.h"
#include "db/store.h"
#include "db/store_check.h"

namespace provisiond {
namespace {

base::UnixTime Now() { return static_cast<base::UnixTime>(std::time(nullptr)); }

using cli::Error;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  s.erase(std::remove(s.begin(), s.end(), ':'), s.end());  // accept openssl's AB:CD:.. form
  return s;
}

std::unique_ptr<db::Store> OpenStore(const StoreLocation& location, std::string* error) {
  auto store = location.Open();
  if (!store) {
    *error = "database: " + store.error().detail;
    return nullptr;
  }
  return std::move(*store);
}

// Admin actions join the same tamper-evident event chain as enrollments.
db::EventRecord AdminEvent(const std::string& outcome, const std::string& reason) {
  return db::EventRecord{.time = ca::Iso8601(Now()),
                         .peer = "local",
                         .endpoint = "admin",
                         .outcome = outcome,
                         .reason = reason};
}

int Revoke(const AdminOptions& o, const StoreLocation& location) {
  if (o.serial.empty() == o.device_id.empty()) return Error("revoke needs --serial or --device-id");
  auto code = ca::RevocationReasonCode(o.reason);
  // removeFromCRL only exists in delta CRLs; a revocation is never undone here.
  if (!code || *code == ca::kReasonRemoveFromCrl) {
    return Error("unknown revocation reason '" + o.reason + "'");
  }
  std::string serial;
  if (!o.serial.empty()) {
    auto canonical = ca::NormalizeSerialHex(o.serial);
    if (!canonical) return Error("--serial: " + canonical.error().detail);
    serial = *canonical;
  }
  std::string err;
  auto store = OpenStore(location, &err);
  if (!store) return Error(err);
  const std::string now = ca::Iso8601(Now());
  const std::string what = serial.empty() ? "device_id=" + o.device_id : "serial=" + serial;
  // The revocation and its admin event are one transaction: one commit (one sync), and never a
  // revocation without the operator's event in the chain.
  auto n = store->RevokeRecorded(
      serial.empty() ? db::Store::RevokeBy::kDevice : db::Store::RevokeBy::kSerial,
      serial.empty() ? o.device_id : serial, *code, now, [&](int changed) {
        return AdminEvent("revoked", "revoke " + what + " reason=" + o.reason +
                                         " count=" + std::to_string(changed));
      });
  if (!n) return Error(n.error().detail);
  std::printf("revoked %d certificate(s) (%s, reason %s)\n", *n, what.c_str(), o.reason.c_str());
  return *n > 0 ? 0 : Error("no unrevoked certificate matched " + what);
}

int DenyBootstrap(const AdminOptions& o, const StoreLocation& location) {
  db::DenyEntry entry{.fingerprint = Lower(o.fingerprint), .issuer = o.issuer,
                      .serial_hex = {}, .reason = o.note, .added_at = ca::Iso8601(Now())};
  if (!o.serial.empty()) {
    // The same canonical form the handshake looks up (ca::CertSerialHex): openssl's "8F00..."
    // and the DER bytes "008f00..." are one serial.
    auto canonical = ca::NormalizeSerialHex(o.serial);
    if (!canonical) return Error("--serial: " + canonical.error().detail);
    entry.serial_hex = *canonical;
  }
  if (!o.cert_file.empty()) {
    auto pem = ReadFile(o.cert_file);
    if (!pem) return Error(pem.error().detail);
    auto crt = ca::ParseCertificates(*pem);
    if (!crt) return Error(o.cert_file + ": " + crt.error().detail);
    entry.fingerprint = ca::CertFingerprint(*(*crt)->get());
    entry.issuer = ca::DnString((*crt)->get()->issuer);
    entry.serial_hex = ca::CertSerialHex(*(*crt)->get());
  }
  const bool by_fp = !entry.fingerprint.empty();
  if (!by_fp && (entry.issuer.empty() || entry.serial_hex.empty())) {
    return Error("deny-bootstrap needs --fingerprint, --issuer with --serial, or --cert");
  }
  if (by_fp && entry.fingerprint.size() != 64) return Error("--fingerprint must be SHA-256 hex");
  std::string err;
  auto store = OpenStore(location, &err);
  if (!store) return Error(err);
  const std::string what = by_fp ? "fingerprint=" + entry.fingerprint
                                 : "issuer=\"" + entry.issuer + "\" serial=" + entry.serial_hex;
  // The row, its state event and the operator's event: one transaction, as for revoke.
  if (auto r = store->DenyBootstrapRecorded(entry, AdminEvent("denied", "deny-bootstrap " + what));
      !r) {
    return Error(r.error().detail);
  }
  std::printf("denied bootstrap certificate %s\n", what.c_str());
  return 0;
}

std::string ReasonName(std::optional<int> code) {
  const char* name = ca::RevocationReasonName(code.value_or(0));
  return name ? name : "reason-" + std::to_string(code.value_or(0));
}

int Block(const AdminOptions& o, const StoreLocation& location, bool block) {
  const char* command = block ? "block" : "unblock";
  if (o.device_id.empty()) return Error(std::string(command) + " needs --device-id");
  std::string err;
  auto store = OpenStore(location, &err);
  if (!store) return Error(err);
  const std::string now = ca::Iso8601(Now());
  // The block (or lift), its state event and the operator's event: one transaction.
  const db::EventRecord event =
      AdminEvent(block ? "blocked" : "unblocked",
                 std::string(command) + " device_id=" + o.device_id + " reason=" + o.note);
  auto changed = block ? store->BlockDeviceRecorded(o.device_id, o.note, now, event)
                       : store->UnblockDeviceRecorded(o.device_id, o.note, now, event);
  if (!changed) return Error(changed.error().detail);
  if (!*changed) {
    return Error("device_id=" + o.device_id + (block ? " is already blocked" : " is not blocked"));
  }
  std::printf("%s device_id=%s (%s)\n", block ? "blocked" : "unblocked", o.device_id.c_str(),
              o.note.c_str());
  // A block may precede the device's first enrollment, so an unknown id is not refused; but under
  // --identity-scope per-issuer the store's ids are <scope>:<id>, and a bare id would match none.
  if (auto known = store->FindByDevice(o.device_id); block && known && known->empty()) {
    std::fprintf(stderr,
                 "provisiond: block: note: no certificate names device_id=%s yet (with "
                 "--identity-scope per-issuer, ids are <scope>:<id>; see provisiond list)\n",
                 o.device_id.c_str());
  }
  return 0;
}

int ListBlocked(const AdminOptions& o, db::Store& store) {
  auto blocks = store.ListBlocks(/*active_only=*/true);
  if (!blocks) return Error(blocks.error().detail);
  if (o.json) {
    std::fputs(BlocksJson(*blocks).c_str(), stdout);
    return 0;
  }
  std::printf("%-24s  %-20s  %s\n", "DEVICE_ID", "BLOCKED_AT", "REASON");
  for (const auto& b : *blocks) {
    std::printf("%-24s  %-20s  %s\n", b.device_id.c_str(), b.blocked_at.c_str(),
                b.reason.c_str());
  }
  return 0;
}

// Issuances interrupted between their two commits (serve reports their count at start-up).
int ListPending(const AdminOptions& o, db::Store& store) {
  auto intents = store.PendingIntents();
  if (!intents) return Error(intents.error().detail);
  if (o.json) {
    std::fputs(PendingJson(*intents).c_str(), stdout);
    return 0;
  }
  std::printf("%-32s  %-24s  %-8s  %-20s  %s\n", "SERIAL", "DEVICE_ID", "KIND", "CREATED_AT",
              "REVOKED");
  for (const auto& r : *intents) {
    std::printf("%-32s  %-24s  %-8s  %-20s  %s\n", r.serial_hex.c_str(), r.device_id.c_str(),
                r.kind.c_str(), r.created_at.c_str(),
                r.revoked_at ? (*r.revoked_at + " " + ReasonName(r.revocation_reason)).c_str()
                             : "-");
  }
  return 0;
}

int List(const AdminOptions& o, const StoreLocation& location) {
  db::ListFilter filter;
  if (!o.device_id.empty()) filter.device_id = o.device_id;
  filter.revoked_only = o.revoked_only;
  if (!o.expiring_within.empty()) {
    auto d = ParseDuration(o.expiring_within);
    if (!d) return Error(d.error().detail);
    filter.expiring_before_iso = ca::Iso8601(Now() + d->count());
  }
  std::string err;
  auto store = OpenStore(location, &err);
  if (!store) return Error(err);
  if (o.blocked_only) return ListBlocked(o, *store);
  if (o.pending_only) return ListPending(o, *store);
  if (o.grants_only) return ListGrants(*store, o.json);
  auto rows = store->ListCertificates(filter);
  if (!rows) return Error(rows.error().detail);
  if (o.json) {
    std::fputs(CertificatesJson(*rows).c_str(), stdout);
    return 0;
  }
  std::printf("%-32s  %-24s  %-8s  %-20s  %s\n", "SERIAL", "DEVICE_ID", "KIND", "NOT_AFTER",
              "REVOKED");
  for (const auto& r : *rows) {
    std::printf("%-32s  %-24s  %-8s  %-20s  %s\n", r.serial_hex.c_str(), r.device_id.c_str(),
                r.kind.c_str(), r.not_after.c_str(),
                r.revoked_at ? (*r.revoked_at + " " + ReasonName(r.revocation_reason)).c_str()
                             : "-");
  }
  return 0;
}

// Every page of a SQLite store (PRAGMA quick_check), which no open does any more: one line.
int CheckStore(const StoreLocation& location) {
  if (location.postgres()) {
    return Error("check-store: a PostgreSQL store checks its own pages (initdb --data-checksums)");
  }
  if (::access(location.sqlite_path().c_str(), F_OK) != 0) {
    return Error("check-store: no database at " + location.sqlite_path());
  }
  db::SqliteFileCheck check;
  auto result = check.Run(location.sqlite_path());
  if (!result) return Error(result.error().detail);
  std::printf("store ok: %lld pages checked in %.1f s (%s)\n",
              static_cast<long long>(result->pages), result->seconds, location.label().c_str());
  return 0;
}

// Creates or upgrades the schema; one line with the version it is at.
int Migrate(const StoreLocation& location) {
  auto version = location.Migrate();
  if (!version) return Error("database: " + version.error().detail);
  std::printf("schema version %d (%s)\n", *version, location.label().c_str());
  return 0;
}

}  // namespace

AdminCommands AddAdminCommands(CLI::App& app, AdminOptions& o) {
  AdminCommands c{};
  c.revoke = app.add_subcommand("revoke", "revoke a certificate or all of a device's");
  c.revoke->add_option("--serial", o.serial, "serial number (hex)")->check(NonEmptyText());
  c.revoke->add_option("--device-id", o.device_id, "revoke every certificate of this device")
      ->check(NonEmptyText());
  c.revoke->add_option("--reason", o.reason, "RFC 5280 reason, e.g. keyCompromise, superseded")
      ->capture_default_str();
  c.deny = app.add_subcommand("deny-bootstrap", "stop a bootstrap certificate from enrolling");
  c.deny->add_option("--fingerprint", o.fingerprint, "SHA-256 of the certificate (hex)")
      ->check(NonEmptyText());
  c.deny->add_option("--issuer", o.issuer, "issuer DN as provisiond logs it, with --serial")
      ->check(NonEmptyText());
  c.deny->add_option("--serial", o.serial, "serial number (hex), with --issuer")
      ->check(NonEmptyText());
  c.deny->add_option("--cert", o.cert_file, "the bootstrap certificate itself (PEM)")
      ->check(ReadableFile());
  c.deny->add_option("--note", o.note, "why (kept in the denylist)")->check(NonEmptyText());
  c.block = app.add_subcommand("block", "refuse every future issuance to a device id");
  c.unblock = app.add_subcommand("unblock", "lift a device's block");
  for (CLI::App* cmd : {c.block, c.unblock}) {
    cmd->add_option("--device-id", o.device_id, "the device id")->required()->check(NonEmptyText());
    cmd->add_option("--reason", o.note, "why (kept with the block, in the audit chain)")
        ->required()
        ->check(NonEmptyText());
  }
  c.crl = app.add_subcommand("crl",
                             "write one CA generation's CRL of revoked, unexpired certificates");
  c.crl->add_option("--out", o.out)->required()->check(WritableFilePath());
  c.crl->add_flag("--pem", o.pem, "PEM instead of DER");
  AddCaKeyOptions(c.crl, o.ca_key);
  c.crl->add_option("--next-update-days", o.next_update_days)->check(CLI::Range(1, 365))
      ->capture_default_str();
  c.crl->add_option("--generation", o.crl_generation,
                    "the CA generation whose certificates it lists and whose key signs it "
                    "(ca status; each has its own CRL)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  c.list = app.add_subcommand("list", "list issued certificates");
  c.list->add_option("--device-id", o.device_id)->check(NonEmptyText());
  c.list->add_flag("--revoked", o.revoked_only, "only revoked certificates");
  auto* blocked = c.list->add_flag("--blocked", o.blocked_only,
                                   "the blocked device ids instead of certificates");
  auto* pending =
      c.list->add_flag("--pending", o.pending_only, "interrupted issuances (pending intents) instead")
          ->excludes(blocked);
  c.list->add_flag("--grants", o.grants_only, "re-bootstrap grants (open, spent, expired) instead")
      ->excludes(blocked)
      ->excludes(pending);
  c.list->add_option("--expiring-within", o.expiring_within, "e.g. 30d: unrevoked, expiring soon")
      ->check(DurationText());
  c.list->add_flag("--json", o.json);
  c.audit = app.add_subcommand("audit", "audit trail commands");
  c.audit_verify = c.audit->add_subcommand("verify", "check the enrollment_events hash chain");
  c.audit_checkpoint = c.audit->add_subcommand(
      "checkpoint", "verify the chain, then write its head signed by the active CA generation");
  c.audit_checkpoint->add_option("--out", o.out, "the checkpoint file (default: stdout)")
      ->check(WritableFilePath());
  AddCaKeyOptions(c.audit_checkpoint, o.ca_key);
  for (CLI::App* cmd : {c.audit_verify, c.audit_checkpoint}) {
    cmd->add_option("--from-checkpoint", o.checkpoint_file,
                     "start at a checkpoint's row (its signature checked under any CA "
                     "generation's ca.crt) "
                     "instead of walking the whole chain")
        ->check(ReadableFile());
  }
  c.audit_verify_archive = c.audit->add_subcommand(
      "verify-archive",
      "check a `tidy --archive` file: its signature (any CA generation's) and its chain rows");
  c.audit_verify_archive->add_option("FILE", o.archive_file, "the archive")
      ->required()
      ->check(ReadableFile());
  c.audit->require_subcommand(1);
  c.migrate = app.add_subcommand("migrate", "create or upgrade the database schema (--store)");
  c.check_store = app.add_subcommand("check-store", "read every page of a SQLite store");
  c.grant = AddGrantCommand(app, o.grant);
  c.manifest = AddManifestCommands(app, o.manifest);
  c.ca = AddCaCommands(app, o.ca);
  AddCaKeyOptions(c.ca.rollover, o.ca.ca_key);
  c.tidy = AddTidyCommand(app, o.tidy, o.ca_key);
  for (CLI::App* cmd : {c.revoke, c.deny, c.block, c.unblock, c.crl, c.list, c.audit_verify,
                        c.audit_checkpoint, c.migrate, c.check_store, c.grant, c.manifest.import,
                        c.manifest.report, c.ca.rollover, c.ca.activate, c.ca.retire,
                        c.ca.status, c.tidy, c.audit_verify_archive}) {
    // Not required(): main falls back to state-dir and store under [serve] in the config file.
    cmd->add_option("--state-dir", o.state_dir, "state directory (default: from the config file)")
        ->check(ReadableDirectory());
    AddStoreOptions(cmd, o.store);
  }
  return c;
}

int RunAdminCommand(const AdminCommands& c, const AdminOptions& o, const StoreLocation& store) {
  if (*c.revoke) return Revoke(o, store);
  if (*c.deny) return DenyBootstrap(o, store);
  if (*c.block) return Block(o, store, /*block=*/true);
  if (*c.unblock) return Block(o, store, /*block=*/false);
  if (*c.crl) {
    return WriteGenerationCrl({.state_dir = o.state_dir, .ca_key = o.ca_key, .out = o.out,
                               .pem = o.pem, .next_update_days = o.next_update_days,
                               .generation = o.crl_generation},
                              store);
  }
  if (*c.list) return List(o, store);
  if (*c.audit_verify) return AuditVerify(o, store);
  if (*c.audit_checkpoint) return AuditCheckpoint(o, store);
  if (*c.migrate) return Migrate(store);
  if (*c.check_store) return CheckStore(store);
  if (*c.grant) return GrantRebootstrap(o.grant, store);
  if (int rc = RunManifestCommand(c.manifest, o.manifest, store); rc != -1) return rc;
  if (int rc = RunCaCommand(c.ca, o.ca, o.state_dir, store); rc != -1) return rc;
  if (*c.tidy) return RunTidy(o.tidy, o.state_dir, o.ca_key, store);
  if (*c.audit_verify_archive) return VerifyTidyArchive(o.archive_file, o.state_dir);
  return -1;
}

}  // namespace provisiond
