// audit_checkpoint.cc — writing, signing and checking audit checkpoint files (audit_checkpoint.h).
#include "ca/audit_checkpoint.h"

#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include <charconv>
#include <optional>
#include <span>
#include <vector>

#include "ca/encoding.h"

namespace ca {
namespace {

constexpr std::string_view kFirstLine = "provisiond-audit-checkpoint v1";
constexpr size_t kMaxSignatureBytes = 80;  // a P-256 Ecdsa-Sig-Value is at most 72

bool IsLowerHex(std::string_view s, size_t len) {
  if (s.size() != len) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsTime(std::string_view s) {
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:ddZ";
  if (s.size() != kShape.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (kShape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != kShape[i]) return false;
  }
  return true;
}

bool Wellformed(const AuditCheckpoint& c) {
  return c.id >= 1 && c.rows >= 1 && IsLowerHex(c.row_hash, 64) && IsTime(c.time);
}

std::string SignedPart(const AuditCheckpoint& c) {
  return std::string(kFirstLine) + "\nid " + std::to_string(c.id) + "\nrow_hash " + c.row_hash +
         "\nrows " + std::to_string(c.rows) + "\ntime " + c.time + "\n";
}

std::span<const unsigned char> Bytes(std::string_view s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

Result<void> VerifySignature(std::string_view signed_part, std::span<const unsigned char> sig,
                             const mbedtls_x509_crt& ca_cert) {
  unsigned char hash[32];
  int ret = mbedtls_sha256(Bytes(signed_part).data(), signed_part.size(), hash, 0);
  if (ret != 0) return Fail(Code::kCrypto, MbedtlsError("mbedtls_sha256", ret));
  // mbedtls_pk_verify takes a non-const context but only reads a public key.
  ret = mbedtls_pk_verify(const_cast<mbedtls_pk_context*>(&ca_cert.pk), MBEDTLS_MD_SHA256, hash,
                          sizeof(hash), sig.data(), sig.size());
  if (ret != 0) {
    return Fail(Code::kCrypto, "audit checkpoint: the signature does not verify under the CA "
                               "certificate (forged, edited, or signed by another key)");
  }
  return {};
}

// "<name> <value>\n" at `pos`; advances past it. nullopt if the line is not that.
std::optional<std::string_view> Field(std::string_view text, size_t& pos, std::string_view name) {
  size_t end = text.find('\n', pos);
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view line = text.substr(pos, end - pos);
  if (line.size() <= name.size() || line.substr(0, name.size()) != name ||
      line[name.size()] != ' ') {
    return std::nullopt;
  }
  pos = end + 1;
  return line.substr(name.size() + 1);
}

std::optional<int64_t> Decimal(std::string_view s) {
  int64_t value = 0;
  if (s.empty() || s.size() > 19 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

Result<AuditCheckpoint> ParseFields(std::string_view text, size_t& pos) {
  auto bad = [](const char* what) {
    return Fail(Code::kMalformed, std::string("audit checkpoint: ") + what);
  };
  if (text.substr(0, kFirstLine.size() + 1) != std::string(kFirstLine) + "\n") {
    return bad("not a provisiond audit checkpoint (first line)");
  }
  pos = kFirstLine.size() + 1;
  AuditCheckpoint c;
  auto id = Field(text, pos, "id");
  std::optional<int64_t> id_value = id ? Decimal(*id) : std::nullopt;
  if (!id_value) return bad("line 2 is not 'id <decimal>'");
  c.id = *id_value;
  auto hash = Field(text, pos, "row_hash");
  if (!hash) return bad("line 3 is not 'row_hash <hex>'");
  c.row_hash = std::string(*hash);
  auto rows = Field(text, pos, "rows");
  std::optional<int64_t> rows_value = rows ? Decimal(*rows) : std::nullopt;
  if (!rows_value) return bad("line 4 is not 'rows <decimal>'");
  c.rows = *rows_value;
  auto time = Field(text, pos, "time");
  if (!time) return bad("line 5 is not 'time <when>'");
  c.time = std::string(*time);
  if (!Wellformed(c)) return bad("a field is out of range or form");
  return c;
}

}  // namespace

Result<std::string> SignAuditCheckpoint(const AuditCheckpoint& checkpoint,
                                        const mbedtls_x509_crt& ca_cert, CaKey& key, Rng rng) {
  if (!Wellformed(checkpoint)) {
    return Fail(Code::kInvalidArgument, "audit checkpoint: a field is out of range or form");
  }
  const std::string signed_part = SignedPart(checkpoint);
  auto sig = SignSha256(key, Bytes(signed_part), rng);
  if (!sig) return std::unexpected(sig.error());
  if (auto ok = VerifySignature(signed_part, *sig, ca_cert); !ok) {
    return std::unexpected(ok.error());
  }
  return signed_part + "signature " + Base64Encode(*sig, /*wrap=*/false) + "\n";
}

Result<AuditCheckpoint> VerifyAuditCheckpoint(std::string_view text,
                                              const mbedtls_x509_crt& ca_cert) {
  if (text.size() > kMaxCheckpointBytes) {
    return Fail(Code::kMalformed, "audit checkpoint: longer than any checkpoint");
  }
  size_t pos = 0;
  auto checkpoint = ParseFields(text, pos);
  if (!checkpoint) return checkpoint;
  const std::string_view signed_part = text.substr(0, pos);
  auto sig_text = Field(text, pos, "signature");
  if (!sig_text || pos != text.size()) {
    return Fail(Code::kMalformed, "audit checkpoint: line 6 is not 'signature <base64>', or "
                                  "something follows it");
  }
  auto sig = Base64Decode(*sig_text, kMaxSignatureBytes);
  if (!sig) return Fail(Code::kMalformed, "audit checkpoint: the signature is not base64");
  if (auto ok = VerifySignature(signed_part, *sig, ca_cert); !ok) {
    return std::unexpected(ok.error());
  }
  return checkpoint;
}

}  // namespace ca
