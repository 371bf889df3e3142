// tidy_archive_check.cc — VerifyArchive (tidy_archive.h): `provisiond audit verify-archive`.
#include <mbedtls/sha256.h>

#include <charconv>
#include <fstream>
#include <optional>
#include <span>

#include "ca/audit_checkpoint.h"
#include "ca/encoding.h"
#include "daemon/tidy_archive.h"

namespace provisiond {
namespace {

constexpr std::string_view kFirstLine = "provisiond-tidy-archive v1";
constexpr size_t kMaxLine = 1 << 20;
constexpr size_t kVerifyBatch = 4096;  // chain rows checked at a time
constexpr std::string_view kGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";

base::Error Bad(const std::string& what) {
  return base::Error{base::Code::kInvalidArgument, "archive: " + what};
}

std::vector<std::string_view> Split(std::string_view line) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  for (;;) {
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) {
      out.push_back(line.substr(pos));
      return out;
    }
    out.push_back(line.substr(pos, end - pos));
    pos = end + 1;
  }
}

std::optional<std::string> Text(std::string_view field) {
  if (field == "-") return std::string();
  auto bytes = ca::Base64Decode(field, kMaxLine);
  if (!bytes) return std::nullopt;
  return std::string(bytes->begin(), bytes->end());
}

std::optional<int64_t> Int(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// A base64 checkpoint field, its signature checked; nullopt for "-".
base::Result<std::optional<ca::AuditCheckpoint>> Checkpoint(
    std::string_view field, const std::vector<GenerationRoot>& roots, const char* name) {
  if (field == "-") return std::optional<ca::AuditCheckpoint>();
  auto text = Text(field);
  if (!text) return std::unexpected(Bad(std::string(name) + " is not base64"));
  auto cp = VerifyCheckpointUnderAny(*text, roots);
  if (!cp) return std::unexpected(Bad(std::string(name) + " checkpoint: " + cp.error().detail));
  return std::optional<ca::AuditCheckpoint>(cp->checkpoint);
}

// An "event" line's 14 fields (tidy_archive.h); nullopt when one is out of form.
std::optional<db::ChainRow> ParseEvent(const std::vector<std::string_view>& f) {
  if (f.size() != 14) return std::nullopt;
  auto id = Int(f[1]);
  auto status = Int(f[11]);
  auto time = Text(f[4]), peer = Text(f[5]), fingerprint = Text(f[6]), subject = Text(f[7]),
       device = Text(f[8]), endpoint = Text(f[9]), outcome = Text(f[10]), reason = Text(f[12]);
  if (!id || !status || !time || !peer || !fingerprint || !subject || !device || !endpoint ||
      !outcome || !reason) {
    return std::nullopt;
  }
  db::ChainRow row{.id = *id,
                   .event = db::EventRecord{.time = *time,
                                            .peer = *peer,
                                            .presented_fingerprint = *fingerprint,
                                            .presented_subject = *subject,
                                            .device_id = *device,
                                            .endpoint = *endpoint,
                                            .outcome = *outcome,
                                            .http_status = static_cast<int>(*status),
                                            .reason = *reason},
                   .serial = std::nullopt,
                   .prev_hash = std::string(f[2]),
                   .row_hash = std::string(f[3])};
  if (f[13] != "-") row.serial = std::string(f[13]);
  return row;
}

// The state of one pass over the file.
struct Pass {
  ArchiveSummary summary;
  db::ChainBase next;  // where the next chain row must start
  std::vector<db::ChainRow> pending;
  std::optional<ca::AuditCheckpoint> head, cut;

  base::Result<void> Flush() {
    if (pending.empty()) return {};
    db::AuditReport r = db::VerifyArchivedChain(pending, next);
    if (!r.ok) return std::unexpected(Bad("chain " + r.problem));
    next.first_id = pending.back().id + 1;
    next.prev_hash = r.head_hash;
    pending.clear();
    return {};
  }
};

bool ReadLine(std::ifstream& in, std::string& line, mbedtls_sha256_context& sha, bool hash) {
  if (!std::getline(in, line) || line.size() > kMaxLine) return false;
  if (hash) {
    const std::string with_lf = line + "\n";
    mbedtls_sha256_update(&sha, reinterpret_cast<const unsigned char*>(with_lf.data()),
                          with_lf.size());
  }
  return true;
}

base::Result<void> Header(std::ifstream& in, mbedtls_sha256_context& sha,
                          const std::vector<GenerationRoot>& roots, Pass& p) {
  std::string line;
  if (!ReadLine(in, line, sha, true) || line != kFirstLine) {
    return std::unexpected(Bad("not a provisiond tidy archive (first line)"));
  }
  if (!ReadLine(in, line, sha, true) || line.rfind("checkpoint ", 0) != 0) {
    return std::unexpected(Bad("line 2 is not 'checkpoint <b64>'"));
  }
  auto head = Checkpoint(std::string_view(line).substr(11), roots, "head");
  if (!head) return std::unexpected(head.error());
  if (!*head) return std::unexpected(Bad("the head checkpoint is missing"));
  p.head = *head;
  p.summary.head_id = p.head->id;
  if (!ReadLine(in, line, sha, true)) return std::unexpected(Bad("line 3 missing"));
  auto f = Split(line);
  auto first = f.size() == 4 ? Int(f[1]) : std::nullopt;
  if (f.size() != 4 || f[0] != "base" || !first) {
    return std::unexpected(Bad("line 3 is not 'base <id> <hash> <b64|->'"));
  }
  auto base_cp = Checkpoint(f[3], roots, "base");
  if (!base_cp) return std::unexpected(base_cp.error());
  p.next = db::ChainBase{.first_id = *first, .prev_hash = std::string(f[2]), .checkpoint = {}};
  const bool genesis = *first == 1 && f[2] == kGenesis;
  const bool anchored = *base_cp && (*base_cp)->id + 1 == *first && (*base_cp)->row_hash == f[2];
  if (!genesis && !anchored) {
    return std::unexpected(Bad("the base is neither genesis nor the row after its signed checkpoint"));
  }
  if (!ReadLine(in, line, sha, true) || line.rfind("cut ", 0) != 0) {
    return std::unexpected(Bad("line 4 is not 'cut <b64|->'"));
  }
  auto cut = Checkpoint(std::string_view(line).substr(4), roots, "cut");
  if (!cut) return std::unexpected(cut.error());
  p.cut = *cut;
  return {};
}

}  // namespace

base::Result<ArchiveSummary> VerifyArchive(const std::string& path,
                                           const std::vector<GenerationRoot>& roots) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(Bad(path + ": cannot open"));
  mbedtls_sha256_context sha;
  mbedtls_sha256_init(&sha);
  mbedtls_sha256_starts(&sha, 0);
  struct Free {
    mbedtls_sha256_context* c;
    ~Free() { mbedtls_sha256_free(c); }
  } free_sha{&sha};
  Pass p;
  if (auto h = Header(in, sha, roots, p); !h) return std::unexpected(h.error());
  std::string line;
  std::optional<std::vector<std::string_view>> end;
  std::string end_line;
  while (ReadLine(in, line, sha, true)) {
    auto f = Split(line);
    if (f[0] == "event") {
      auto row = ParseEvent(f);
      if (!row) return std::unexpected(Bad("a malformed event line"));
      if (p.summary.events++ == 0) p.summary.first_event = row->id;
      p.summary.last_event = row->id;
      p.pending.push_back(std::move(*row));
      if (p.pending.size() >= kVerifyBatch) {
        if (auto r = p.Flush(); !r) return std::unexpected(r.error());
      }
    } else if (f[0] == "certificate" && f.size() == 10) {
      ++p.summary.certificates;
    } else if (f[0] == "intent" && f.size() == 10) {
      ++p.summary.intents;
    } else if (f[0] == "end" && f.size() == 4) {
      end_line = line;
      break;
    } else {
      return std::unexpected(Bad("an unknown or malformed line: " + line.substr(0, 40)));
    }
  }
  if (end_line.empty()) return std::unexpected(Bad("no 'end' line: the archive is incomplete"));
  if (auto r = p.Flush(); !r) return std::unexpected(r.error());
  auto e = Split(end_line);
  if (Int(e[1]) != p.summary.events || Int(e[2]) != p.summary.certificates ||
      Int(e[3]) != p.summary.intents) {
    return std::unexpected(Bad("the 'end' counts differ from the lines above it"));
  }
  unsigned char digest[32];
  mbedtls_sha256_finish(&sha, digest);
  if (!ReadLine(in, line, sha, false) || line.rfind("signature ", 0) != 0) {
    return std::unexpected(Bad("no 'signature' line after 'end'"));
  }
  auto sig = ca::Base64Decode(std::string_view(line).substr(10), 128);
  p.summary.signed_by = sig ? GenerationThatSigned(roots, digest, *sig) : 0;
  if (p.summary.signed_by == 0) {
    return std::unexpected(Bad("the signature does not verify under any CA generation's "
                               "certificate (the file was changed, or another key signed it)" +
                               LeftOutNote(roots)));
  }
  if (std::getline(in, line)) return std::unexpected(Bad("something follows the signature"));
  if (p.summary.events > 0) {
    if (!p.cut || p.cut->id != p.summary.last_event || p.cut->row_hash != p.next.prev_hash) {
      return std::unexpected(Bad("the last chain row is not the cut checkpoint's row"));
    }
    if (p.cut->id >= p.head->id) return std::unexpected(Bad("the cut is not below the head"));
  } else if (p.cut) {
    return std::unexpected(Bad("a cut checkpoint but no chain rows"));
  }
  return p.summary;
}

}  // namespace provisiond
