// admin_json_test.cc — `provisiond list --json`: the line layout scripts saw before, and strings
// (a device id or subject from a CSR) that need escaping or are not UTF-8 parse and round-trip.
#include "daemon/admin_json.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

namespace provisiond {
namespace {

using Json = nlohmann::json;
const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Every control character, quote, backslash, DEL and valid non-ASCII (2-, 3- and 4-byte UTF-8).
std::string Nasty() {
  std::string s = "dev-\"q\"\\back\\slash/";
  for (int c = 0; c < 0x20; ++c) s += static_cast<char>(c);
  return s + "\x7f Z\xC3\xBCrich \xE6\x9D\xB1\xE4\xBA\xAC \xF0\x9F\x94\x91";
}

db::CertificateRecord Row(const std::string& device_id, const std::string& subject) {
  db::CertificateRecord r;
  r.serial_hex = "0a1b";
  r.device_id = device_id;
  r.subject = subject;
  r.kind = "enroll";
  r.not_before = "2026-01-01T00:00:00Z";
  r.not_after = "2026-04-01T00:00:00Z";
  r.issued_at = "2026-01-01T00:00:01Z";
  return r;
}

// Parses strictly (invalid JSON or invalid UTF-8 is refused) without throwing.
Json Parse(const std::string& text) {
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  REQUIRE_MESSAGE(!doc.is_discarded(), "not JSON: " << text);
  return doc;
}

TEST_CASE("list json: one compact object per line, as before") {
  db::CertificateRecord revoked = Row("dev-2", "CN=dev-2");
  revoked.revoked_at = "2026-02-01T00:00:00Z";
  revoked.revocation_reason = 1;
  CHECK(CertificatesJson({Row("dev-1", "CN=dev-1"), revoked}) ==
        "[\n {\"serial\":\"0a1b\",\"device_id\":\"dev-1\",\"kind\":\"enroll\",\"subject\":"
        "\"CN=dev-1\",\"not_before\":\"2026-01-01T00:00:00Z\",\"not_after\":"
        "\"2026-04-01T00:00:00Z\",\"issued_at\":\"2026-01-01T00:00:01Z\",\"revoked_at\":null,"
        "\"revocation_reason\":null},\n {\"serial\":\"0a1b\",\"device_id\":\"dev-2\",\"kind\":"
        "\"enroll\",\"subject\":\"CN=dev-2\",\"not_before\":\"2026-01-01T00:00:00Z\","
        "\"not_after\":\"2026-04-01T00:00:00Z\",\"issued_at\":\"2026-01-01T00:00:01Z\","
        "\"revoked_at\":\"2026-02-01T00:00:00Z\",\"revocation_reason\":1}\n]\n");
  CHECK(CertificatesJson({}) == "[\n]\n");
  CHECK(BlocksJson({db::DeviceBlock{.device_id = "d", .reason = "r", .blocked_at = "t"}}) ==
        "[\n {\"device_id\":\"d\",\"reason\":\"r\",\"blocked_at\":\"t\"}\n]\n");
  CHECK(BlocksJson({}) == "[\n]\n");
}

TEST_CASE("list json: quotes, backslashes, control characters and UTF-8 round-trip") {
  const std::string id = Nasty();
  const std::string subject = "CN=" + Nasty() + ",O=\"x\"";
  const Json certs = Parse(CertificatesJson({Row(id, subject)}));
  REQUIRE(certs.size() == 1);
  CHECK(certs[0]["device_id"] == id);
  CHECK(certs[0]["subject"] == subject);
  CHECK(certs[0]["revoked_at"].is_null());
  const Json blocks = Parse(BlocksJson({db::DeviceBlock{.device_id = id, .reason = subject}}));
  CHECK(blocks[0]["device_id"] == id);
  CHECK(blocks[0]["reason"] == subject);
  const std::string nul("dev\0id", 6);
  CHECK(Parse(CertificatesJson({Row(nul, nul)}))[0]["device_id"] == nul);
}

TEST_CASE("list json: invalid UTF-8 becomes U+FFFD, never an exception or invalid JSON") {
  std::string text;
  CHECK_NOTHROW(text = CertificatesJson({Row("dev\xFF-1", "CN=\xC3"), Row("ok", "a\xC0\xAF" "b")}));
  const Json certs = Parse(text);
  CHECK(certs[0]["device_id"] == "dev" + kReplacement + "-1");
  CHECK(certs[0]["subject"] == "CN=" + kReplacement);
  CHECK(certs[1]["device_id"] == "ok");
  CHECK(certs[1]["subject"] == "a" + kReplacement + kReplacement + "b");
  const db::DeviceBlock bad{.device_id = "\xED\xA0\x80", .reason = "\xFE"};
  CHECK_NOTHROW(text = BlocksJson({bad}));
  const Json blocks = Parse(text);
  CHECK(blocks[0]["device_id"] == kReplacement + kReplacement + kReplacement);
  CHECK(blocks[0]["reason"] == kReplacement);
  for (int byte = 0; byte < 256; ++byte) {  // every single byte as a whole device id
    CAPTURE(byte);
    const std::string one(1, static_cast<char>(byte));
    CHECK_NOTHROW(text = CertificatesJson({Row(one, one)}));
    CHECK(Parse(text)[0]["device_id"].is_string());
    CHECK_NOTHROW(text = BlocksJson({db::DeviceBlock{.device_id = one}}));
    CHECK(Parse(text)[0]["device_id"].is_string());
  }
}

}  // namespace
}  // namespace provisiond
