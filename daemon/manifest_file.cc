// manifest_file.cc — the factory manifest parser (manifest_file.h): CSV by lines, JSON with
// nlohmann-json after a scan that bounds its nesting and finds each object's line.
#include "daemon/manifest_file.h"

#include <cctype>
#include <map>
#include <nlohmann/json.hpp>

namespace provisiond {
namespace {

constexpr std::string_view kHeader = "device_id,bootstrap_sha256";
constexpr std::string_view kBom = "\xEF\xBB\xBF";

std::string CheckDeviceId(std::string_view id) {
  if (id.empty()) return "empty device_id";
  if (id.size() > kMaxDeviceIdBytes) {
    return "device_id longer than " + std::to_string(kMaxDeviceIdBytes) + " bytes";
  }
  if (id.front() == ' ' || id.back() == ' ') return "device_id starts or ends with a space";
  for (unsigned char c : id) {
    if (c < 0x20 || c > 0x7E || c == ',' || c == '"' || c == '\\') {
      return "device_id holds a byte other than printable ASCII without , \" \\";
    }
  }
  return "";
}

// Lowercase hex of 64 digits, or "" when `hex` is not that.
std::string LowerSha256(std::string_view hex) {
  if (hex.size() != 64) return "";
  std::string out(hex);
  for (char& c : out) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return "";
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Checks one row and keeps it, or records why not (duplicates name the line listed first).
class Rows {
 public:
  explicit Rows(ParsedManifest& out) : out_(out) {}
  void Add(int line, std::string_view device_id, std::string_view hex) {
    if (std::string why = CheckDeviceId(device_id); !why.empty()) return Problem(line, why);
    const std::string fp = LowerSha256(hex);
    if (fp.empty()) return Problem(line, "bootstrap_sha256 is not 64 hex digits");
    if (out_.rows.size() >= kMaxManifestRows) {
      return Problem(line, "more than " + std::to_string(kMaxManifestRows) + " rows");
    }
    auto [id_at, id_new] = ids_.emplace(std::string(device_id), line);
    if (!id_new) return Problem(line, "device_id repeats line " + std::to_string(id_at->second));
    auto [fp_at, fp_new] = fps_.emplace(fp, line);
    if (!fp_new) {
      ids_.erase(id_at);
      return Problem(line, "bootstrap_sha256 repeats line " + std::to_string(fp_at->second));
    }
    out_.rows.push_back(db::ManifestRow{std::string(device_id), fp, line});
  }
  void Problem(int line, std::string message) {
    out_.problems.push_back({line, std::move(message)});
  }

 private:
  ParsedManifest& out_;
  std::map<std::string, int, std::less<>> ids_, fps_;
};

void ParseCsv(std::string_view text, Rows& rows) {
  int line = 0;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view content = text.substr(at, end - at);
    at = end + 1;
    ++line;
    if (content.ends_with('\r')) content.remove_suffix(1);
    if (content.size() > kMaxManifestLineBytes) {
      rows.Problem(line, "line longer than " + std::to_string(kMaxManifestLineBytes) + " bytes");
      continue;
    }
    if (line == 1) {
      if (content != kHeader) rows.Problem(1, "the first line must be " + std::string(kHeader));
      continue;
    }
    if (content.empty()) continue;
    const size_t comma = content.find(',');
    if (comma == std::string_view::npos || content.find(',', comma + 1) != std::string_view::npos) {
      rows.Problem(line, "want 2 fields separated by one comma");
      continue;
    }
    rows.Add(line, content.substr(0, comma), content.substr(comma + 1));
  }
  if (line == 0) rows.Problem(0, "empty file: want the header " + std::string(kHeader));
}

// The line of each '{' opening a top-level array element, and whether the text nests deeper
// than array > object > value (checked before nlohmann-json builds anything from it). Strings
// are skipped with their escapes; the syntax itself is nlohmann-json's to judge.
bool ScanJson(std::string_view text, std::vector<int>& object_lines) {
  int depth = 0, line = 1;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (c == '\n') ++line;
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '[' || c == '{') {
      if (++depth > 2) return false;
      if (depth == 2 && c == '{') object_lines.push_back(line);
    }
    if (c == ']' || c == '}') --depth;
  }
  return true;
}

void ParseJson(std::string_view text, Rows& rows) {
  std::vector<int> lines;
  if (!ScanJson(text, lines)) return rows.Problem(0, "JSON nested deeper than an array of objects");
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return rows.Problem(0, "not valid JSON (nor UTF-8)");
  if (!doc.is_array()) return rows.Problem(0, "JSON must be an array of objects");
  size_t object = 0;
  for (size_t i = 0; i < doc.size(); ++i) {
    const nlohmann::json& entry = doc[i];
    if (!entry.is_object()) {
      rows.Problem(0, "array element " + std::to_string(i + 1) + " is not an object");
      continue;
    }
    const int line = object < lines.size() ? lines[object] : 0;
    ++object;
    const auto id = entry.find("device_id");
    const auto fp = entry.find("bootstrap_sha256");
    if (entry.size() != 2 || id == entry.end() || fp == entry.end()) {
      rows.Problem(line, "want exactly the keys device_id and bootstrap_sha256");
      continue;
    }
    if (!id->is_string() || !fp->is_string()) {
      rows.Problem(line, "device_id and bootstrap_sha256 must be strings");
      continue;
    }
    rows.Add(line, id->get_ref<const std::string&>(), fp->get_ref<const std::string&>());
  }
}

}  // namespace

ParsedManifest ParseManifest(std::string_view text) {
  ParsedManifest out;
  Rows rows(out);
  if (text.size() > kMaxManifestBytes) {
    rows.Problem(0, "file larger than " + std::to_string(kMaxManifestBytes) + " bytes");
    return out;
  }
  if (text.starts_with(kBom)) text.remove_prefix(kBom.size());
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '[') {
    ParseJson(text, rows);
  } else {
    ParseCsv(text, rows);
  }
  if (out.problems.empty() && out.rows.empty()) rows.Problem(0, "no rows");
  return out;
}

}  // namespace provisiond
