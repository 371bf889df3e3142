// manifest_state.cc — the "manifest_imported" state event and the manifests' part of the audit
// chain's cross-check (manifest_state.h).
#include "db/manifest_state.h"

#include <algorithm>
#include <map>
#include <span>

#include "ca/encoding.h"
#include "db/audit_state.h"
#include "db/row_read.h"

namespace db {
namespace {

// Read whole by `audit verify` (tests/db/query_plan.h lists them as whole-table by design).
constexpr const char* kSelectBatches =
    "SELECT id, name, file_sha256, imported_at FROM manifest_batches ORDER BY id";
constexpr const char* kSelectRows =
    "SELECT batch_id, device_id, bootstrap_sha256 FROM manifest_devices ORDER BY batch_id";

}  // namespace

std::string ManifestRowsSha256(std::vector<ManifestRow> rows) {
  std::sort(rows.begin(), rows.end(), [](const ManifestRow& a, const ManifestRow& b) {
    return a.device_id < b.device_id;
  });
  std::string text;
  for (const ManifestRow& row : rows) {
    text += row.device_id;
    text += ',';
    text += row.bootstrap_sha256;
    text += '\n';
  }
  return ca::Sha256Hex(std::span(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
}

EventRecord ManifestImportedEvent(std::string_view batch, std::string_view file_sha256,
                                  int64_t row_count, std::string_view rows_sha256,
                                  std::string_view imported_at) {
  std::string text;
  AppendValue(text, "batch", batch);
  AppendValue(text, "file_sha256", file_sha256);
  AppendValue(text, "rows", std::to_string(row_count));
  AppendValue(text, "rows_sha256", rows_sha256);
  AppendValue(text, "imported_at", imported_at);
  return EventRecord{.time = std::string(imported_at),
                     .peer = "local",
                     .presented_fingerprint = {},
                     .presented_subject = {},
                     .device_id = {},
                     .endpoint = "state",
                     .outcome = "manifest_imported",
                     .http_status = 0,
                     .reason = std::move(text),
                     .serial_hex = {}};
}

Result<std::vector<std::pair<EventRecord, std::string>>> ManifestState(const RowQuery& query) {
  struct Batch {
    std::string name, file_sha256, imported_at;
    std::vector<ManifestRow> rows;
  };
  std::map<int64_t, Batch> batches;
  auto read = query(kSelectBatches, [&](const RowView& row) {
    batches[row.Int(0)] = Batch{row.Text(1), row.Text(2), row.Text(3), {}};
  });
  if (!read) return std::unexpected(read.error());
  // A row whose batch_id names no batch cannot be (foreign key); were it there, it would match
  // no event: it is reported under a batch of its own with an empty name.
  auto rows = query(kSelectRows, [&](const RowView& row) {
    batches[row.Int(0)].rows.push_back(ManifestRow{row.Text(1), Sha256Column(row, 2), 0});
  });
  if (!rows) return std::unexpected(rows.error());
  std::vector<std::pair<EventRecord, std::string>> out;
  for (auto& [id, batch] : batches) {
    const auto count = static_cast<int64_t>(batch.rows.size());
    out.emplace_back(ManifestImportedEvent(batch.name, batch.file_sha256, count,
                                           ManifestRowsSha256(std::move(batch.rows)),
                                           batch.imported_at),
                     "manifest batch \"" + batch.name + "\"");
  }
  return out;
}

}  // namespace db
