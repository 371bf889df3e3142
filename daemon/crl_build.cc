// crl_build.cc — the CRL's contents from the store (see crl_build.h).
#include "daemon/crl_build.h"

#include <ctime>
#include <string>

#include "ca/encoding.h"

namespace provisiond {
namespace {

// A positive INTEGER's minimal DER contents (a leading 0x00 when the top bit is set).
base::Bytes CrlNumberBytes(int64_t n) {
  base::Bytes b;
  for (; n > 0; n >>= 8) b.insert(b.begin(), static_cast<unsigned char>(n & 0xff));
  if (b.empty() || (b[0] & 0x80)) b.insert(b.begin(), 0);
  return b;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The store keeps serials as lowercase hex of the integer's minimal unsigned bytes, without the
// DER sign byte (README, "Serials"): the INTEGER contents get it back when the top bit is set. A
// malformed one yields empty bytes, which SignCrl refuses, naming it.
base::Bytes SerialContents(const std::string& hex) {
  base::Bytes out;
  if (hex.size() % 2 != 0) return {};
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexDigit(hex[i]), lo = HexDigit(hex[i + 1]);
    if (hi < 0 || lo < 0) return {};
    out.push_back(static_cast<unsigned char>(hi * 16 + lo));
  }
  if (!out.empty() && (out[0] & 0x80)) out.insert(out.begin(), 0);
  return out;
}

base::UnixTime ParseIso(const std::string& iso) {
  std::tm tm{};
  if (!strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return 0;
  return static_cast<base::UnixTime>(timegm(&tm));
}

}  // namespace

db::Result<CrlContents> CrlFromStore(db::Store& store, base::UnixTime now,
                                     base::UnixTime next_update_after,
                                     base::UnixTime keep_after_expiry,
                                     std::optional<int64_t> gen) {
  const std::string dropped_before = ca::Iso8601(now - keep_after_expiry);
  auto revoked = store.RevokedUnexpired(dropped_before);
  if (!revoked) return std::unexpected(revoked.error());
  // What this CRL leaves out, no later one lists: tidy may remove those rows (store.h).
  if (auto noted = store.NoteCrlBuilt(dropped_before); !noted) {
    return std::unexpected(noted.error());
  }
  auto number = store.NextCrlNumber();
  if (!number) return std::unexpected(number.error());
  CrlContents out;
  out.number = *number;
  out.spec = ca::CrlSpec{.this_update = now,
                         .next_update = now + next_update_after,
                         .crl_number = CrlNumberBytes(*number)};
  out.spec.revoked.reserve(revoked->size());
  for (const auto& r : *revoked) {
    if (gen && r.ca_gen != *gen && r.ca_gen != 0) continue;  // 0: an intent (store.h)
    out.spec.revoked.push_back({.serial = SerialContents(r.serial_hex),
                                .revocation_date = ParseIso(r.revoked_at.value_or("")),
                                .reason = r.revocation_reason.value_or(0)});
  }
  return out;
}

}  // namespace provisiond
