// manifest_cli.cc — the `manifest import` and `manifest report` commands (manifest_cli.h).
#include "daemon/manifest_cli.h"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <span>

#include "ca/cert.h"
#include "ca/encoding.h"
#include "daemon/cli_checks.h"
#include "daemon/cli_error.h"
#include "daemon/files.h"
#include "daemon/manifest_file.h"

namespace provisiond {
namespace {

constexpr size_t kMaxBatchBytes = 64;

int Error(const std::string& what) { return cli::Error("manifest", what); }

// 1-64 bytes of letters, digits, '.', '_' and '-': it names the batch in reports, the audit
// chain and shell commands.
bool GoodBatchName(const std::string& name) {
  if (name.empty() || name.size() > kMaxBatchBytes) return false;
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

int PrintConflicts(const ManifestOptions& o, const db::ManifestImportResult& result) {
  for (const db::ManifestConflict& c : result.conflicts) {
    const std::string where =
        c.line > 0 ? o.file + ":" + std::to_string(c.line) : "batch " + o.batch;
    std::fprintf(stderr, "provisiond: manifest: %s: device_id=%s bootstrap_sha256=%s: %s\n",
                 where.c_str(), c.device_id.c_str(), c.bootstrap_sha256.c_str(), c.why.c_str());
  }
  return Error("batch " + o.batch + " refused: " + std::to_string(result.conflicts.size()) +
               " conflicting row(s); nothing imported");
}

int Import(const ManifestOptions& o, const StoreLocation& location) {
  if (!GoodBatchName(o.batch)) {
    return Error("--batch: want 1-64 letters, digits, '.', '_' or '-', got \"" + o.batch + "\"");
  }
  auto text = ReadFile(o.file, kMaxManifestBytes);
  if (!text) return Error(text.error().detail);
  ParsedManifest parsed = ParseManifest(*text);
  if (!parsed.problems.empty()) {
    for (const ManifestProblem& p : parsed.problems) {
      std::fprintf(stderr, "provisiond: manifest: %s:%d: %s\n", o.file.c_str(), p.line,
                   p.message.c_str());
    }
    return Error(std::to_string(parsed.problems.size()) + " bad line(s) in " + o.file +
                 "; nothing imported");
  }
  auto store = location.Open();
  if (!store) return Error("database: " + store.error().detail);
  const auto bytes = std::span(reinterpret_cast<const unsigned char*>(text->data()), text->size());
  db::ManifestImport import{.batch = o.batch,
                            .file_sha256 = ca::Sha256Hex(bytes),
                            .rows = std::move(parsed.rows),
                            .imported_at = ca::Iso8601(std::time(nullptr))};
  auto result = (*store)->ImportManifest(import);
  if (!result) return Error("batch " + o.batch + ": " + result.error().detail);
  switch (result->status) {
    case db::ManifestImportStatus::kImported:
      std::printf("imported batch %s: %zu device(s), file sha256 %s\n", o.batch.c_str(),
                  import.rows.size(), import.file_sha256.c_str());
      return 0;
    case db::ManifestImportStatus::kUnchanged:
      std::printf("batch %s unchanged: its %zu device(s) were imported before\n",
                  o.batch.c_str(), import.rows.size());
      return 0;
    case db::ManifestImportStatus::kConflict: return PrintConflicts(o, *result);
  }
  return Error("internal: unknown import status");
}

int Report(const ManifestOptions& o, const StoreLocation& location) {
  auto store = location.Open();
  if (!store) return Error("database: " + store.error().detail);
  auto report = (*store)->ReportManifests(o.batch);
  if (!report) return Error(report.error().detail);
  if (!o.batch.empty() && report->batches.empty()) return Error("no batch named " + o.batch);
  if (o.json) {
    std::fputs(ManifestReportJson(*report).c_str(), stdout);
    return 0;
  }
  std::printf("%-24s %9s %9s %9s %11s  %s\n", "BATCH", "EXPECTED", "ENROLLED", "SEEN_ONLY",
              "NEVER_SEEN", "IMPORTED_AT");
  for (const db::ManifestBatchCounts& b : report->batches) {
    std::printf("%-24s %9lld %9lld %9lld %11lld  %s\n", b.batch.c_str(),
                static_cast<long long>(b.expected), static_cast<long long>(b.enrolled),
                static_cast<long long>(b.expected - b.enrolled - b.never_seen),
                static_cast<long long>(b.never_seen), b.imported_at.c_str());
  }
  std::printf("unknown certificates (in no manifest): %lld attempt(s) by %lld certificate(s)\n",
              static_cast<long long>(report->unknown_attempts),
              static_cast<long long>(report->unknown_certificates));
  return 0;
}

}  // namespace

std::string ManifestReportJson(const db::ManifestReport& report) {
  using Json = nlohmann::ordered_json;
  Json batches = Json::array();
  for (const db::ManifestBatchCounts& b : report.batches) {
    batches.push_back(Json{{"batch", b.batch},
                           {"expected", b.expected},
                           {"enrolled", b.enrolled},
                           {"seen_not_enrolled", b.expected - b.enrolled - b.never_seen},
                           {"never_seen", b.never_seen},
                           {"file_sha256", b.file_sha256},
                           {"imported_at", b.imported_at}});
  }
  Json doc{{"batches", std::move(batches)},
           {"unknown_attempts", report.unknown_attempts},
           {"unknown_certificates", report.unknown_certificates}};
  return doc.dump(2, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace) + "\n";
}

ManifestCommands AddManifestCommands(CLI::App& app, ManifestOptions& o) {
  ManifestCommands c;
  c.manifest = app.add_subcommand(
      "manifest", "factory manifests: which devices a production batch built, and which enrolled");
  c.manifest->require_subcommand(1);
  c.import = c.manifest->add_subcommand(
      "import",
      "import a batch: CSV with the header device_id,bootstrap_sha256 or a JSON array of "
      "{\"device_id\",\"bootstrap_sha256\"} objects (SHA-256 of the bootstrap certificate's DER, "
      "hex in either case); at most 16 MiB, 512-byte CSV lines, 100000 rows. All or nothing: "
      "every bad or conflicting line is listed and nothing is imported; the same batch again is a "
      "no-op");
  c.import->add_option("--batch", o.batch, "the batch's name (letters, digits, . _ -; 1-64)")
      ->required();
  c.import->add_option("FILE", o.file, "the manifest file")->required()->check(ReadableFile());
  c.report = c.manifest->add_subcommand(
      "report", "per batch: devices expected, enrolled, seen but not enrolled, never seen; and "
                "the attempts by certificates in no manifest");
  c.report->add_option("--batch", o.batch, "only this batch")->check(NonEmptyText());
  c.report->add_flag("--json", o.json, "one JSON object instead of a table");
  return c;
}

int RunManifestCommand(const ManifestCommands& c, const ManifestOptions& o,
                       const StoreLocation& store) {
  if (c.import != nullptr && *c.import) return Import(o, store);
  if (c.report != nullptr && *c.report) return Report(o, store);
  return -1;
}

}  // namespace provisiond
