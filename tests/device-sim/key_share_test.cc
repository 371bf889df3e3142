// key_share_test.cc — tests which TLS 1.3 key share device-sim's ClientHello carries
// (TlsSettings::key_share, device-sim/tls_names.cc GroupList): the ClientHello that
// CaptureClientHello builds with the same settings as every connection is parsed here.
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ca/rng.h"
#include "device-sim/slow_client.h"

namespace devsim {
namespace {

constexpr uint16_t kSecp256r1 = 23;  // IANA TLS supported group numbers
constexpr uint16_t kX25519 = 29;

struct HelloGroups {
  std::vector<uint16_t> supported;   // supported_groups (10), in order
  std::vector<uint16_t> key_shares;  // key_share (51): the group of each entry
};

// A reader that fails (returns nullopt) on any overrun rather than reading past the end.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  std::optional<uint32_t> Int(size_t bytes) {
    if (data_.size() < bytes) return std::nullopt;
    uint32_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(data_[i]);
    data_.remove_prefix(bytes);
    return v;
  }
  std::optional<std::string_view> Bytes(size_t n) {
    if (data_.size() < n) return std::nullopt;
    std::string_view out = data_.substr(0, n);
    data_.remove_prefix(n);
    return out;
  }
  // A vector with a `len_bytes` length prefix.
  std::optional<std::string_view> Vector(size_t len_bytes) {
    auto n = Int(len_bytes);
    if (!n) return std::nullopt;
    return Bytes(*n);
  }
  bool empty() const { return data_.empty(); }

 private:
  std::string_view data_;
};

// RFC 8446 §4.1.2: record header, handshake header, legacy_version, random, legacy_session_id,
// cipher_suites, legacy_compression_methods, extensions.
std::optional<HelloGroups> ParseHello(const std::string& record) {
  Reader r(record);
  if (r.Int(1) != 22u || !r.Int(2)) return std::nullopt;  // handshake record
  auto fragment = r.Vector(2);
  if (!fragment) return std::nullopt;
  Reader h(*fragment);
  if (h.Int(1) != 1u) return std::nullopt;  // client_hello
  auto body = h.Vector(3);
  if (!body) return std::nullopt;
  Reader b(*body);
  if (!b.Int(2) || !b.Bytes(32) || !b.Vector(1) || !b.Vector(2) || !b.Vector(1)) {
    return std::nullopt;
  }
  auto extensions = b.Vector(2);
  if (!extensions) return std::nullopt;
  HelloGroups out;
  Reader e(*extensions);
  while (!e.empty()) {
    auto type = e.Int(2);
    auto data = e.Vector(2);
    if (!type || !data) return std::nullopt;
    Reader d(*data);
    if (*type == 10) {
      auto list = d.Vector(2);
      if (!list) return std::nullopt;
      Reader l(*list);
      while (!l.empty()) {
        auto group = l.Int(2);
        if (!group) return std::nullopt;
        out.supported.push_back(static_cast<uint16_t>(*group));
      }
    } else if (*type == 51) {
      auto shares = d.Vector(2);
      if (!shares) return std::nullopt;
      Reader s(*shares);
      while (!s.empty()) {
        auto group = s.Int(2);
        if (!group || !s.Vector(2)) return std::nullopt;
        out.key_shares.push_back(static_cast<uint16_t>(*group));
      }
    }
  }
  return out;
}

HelloGroups HelloFor(KeyShare share) {
  auto drbg = ca::Drbg::FromSystemEntropy();
  REQUIRE(drbg.has_value());
  TlsSettings tls;
  tls.key_share = share;
  auto hello = CaptureClientHello(tls, nullptr, (*drbg)->rng());
  REQUIRE(hello.has_value());
  auto groups = ParseHello(*hello);
  REQUIRE(groups.has_value());
  return *groups;
}

TEST_CASE("the ClientHello sends a P-256 key share by default and offers X25519 too") {
  CHECK(TlsSettings{}.key_share == KeyShare::kSecp256r1);
  HelloGroups groups = HelloFor(KeyShare::kSecp256r1);
  CHECK(groups.key_shares == std::vector<uint16_t>{kSecp256r1});
  CHECK(groups.supported == std::vector<uint16_t>{kSecp256r1, kX25519});
}

TEST_CASE("--key-share x25519 sends an X25519 key share and still offers P-256") {
  HelloGroups groups = HelloFor(KeyShare::kX25519);
  CHECK(groups.key_shares == std::vector<uint16_t>{kX25519});
  CHECK(groups.supported == std::vector<uint16_t>{kX25519, kSecp256r1});
}

TEST_CASE("key share names") {
  CHECK(std::string(KeyShareName(KeyShare::kSecp256r1)) == "secp256r1");
  CHECK(std::string(KeyShareName(KeyShare::kX25519)) == "x25519");
}

}  // namespace
}  // namespace devsim
