// encoding_test.cc — base64 as EST peers send it, PEM framing, hex, SHA-256 and ISO 8601 times.
#include "ca/encoding.h"

#include <doctest/doctest.h>

#include <string>

namespace {

base::Bytes Sequence(size_t n) {
  base::Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(i * 37 + 11);
  return out;
}

}  // namespace

TEST_CASE("base64 round-trips every length, wrapped and unwrapped") {
  for (size_t n = 1; n < 200; ++n) {
    const base::Bytes data = Sequence(n);
    for (bool wrap : {false, true}) {
      auto decoded = ca::Base64Decode(ca::Base64Encode(data, wrap), 1000);
      REQUIRE(decoded.has_value());
      CHECK(*decoded == data);
    }
  }
}

TEST_CASE("base64 wrapping is 64 columns, every line CRLF-terminated") {
  const std::string text = ca::Base64Encode(Sequence(100), true);  // 136 characters
  CHECK(text.size() == 136 + 3 * 2);
  CHECK(text.substr(64, 2) == "\r\n");
  CHECK(text.substr(130, 2) == "\r\n");
  CHECK(text.substr(text.size() - 2) == "\r\n");
  CHECK(text.find('\n', 0) == 65);
  // Exactly one full line: one CRLF, no empty line after it.
  CHECK(ca::Base64Encode(Sequence(48), true).size() == 66);

  const std::string flat = ca::Base64Encode(Sequence(100), false);
  CHECK(flat.size() == 136);
  CHECK(flat.find_first_of("\r\n") == std::string::npos);
}

TEST_CASE("base64 decode tolerates CR, LF, space and tab anywhere") {
  auto decoded = ca::Base64Decode(" aGVs\r\nbG8g\td29y bGQ=\r\n\n\t", 100);
  REQUIRE(decoded.has_value());
  CHECK(std::string(decoded->begin(), decoded->end()) == "hello world");
}

TEST_CASE("base64 decode rejects junk, bad padding and empty input") {
  for (const char* bad : {"aGVs!G8=", "aGVsbG8", "aGVsbG8==", "a=GVsbG8", "aGVs\vbG8=", "",
                          " \r\n\t", "====", "aGVs-_8="}) {
    auto decoded = ca::Base64Decode(bad, 100);
    CHECK_MESSAGE(!decoded.has_value(), "accepted: ", bad);
    if (!decoded) CHECK(decoded.error().code == ca::Code::kMalformed);
  }
  auto embedded_nul = ca::Base64Decode(std::string_view("aGVs\0bG8=", 9), 100);
  REQUIRE(!embedded_nul.has_value());
  CHECK(embedded_nul.error().code == ca::Code::kMalformed);
}

TEST_CASE("base64 decode is bounded by max_decoded") {
  const std::string text = ca::Base64Encode(Sequence(300), true);
  CHECK(ca::Base64Decode(text, 300).has_value());
  auto over = ca::Base64Decode(text, 299);
  REQUIRE(!over.has_value());
  CHECK(over.error().code == ca::Code::kMalformed);
  // Far too long input is refused before it is decoded.
  auto huge = ca::Base64Decode(std::string(1 << 20, 'A'), 1000);
  REQUIRE(!huge.has_value());
  CHECK(huge.error().code == ca::Code::kMalformed);
}

TEST_CASE("DerToPem frames 64-column LF lines") {
  const std::string pem = ca::DerToPem(Sequence(100), "CERTIFICATE");
  CHECK(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
  CHECK(pem.ends_with("\n-----END CERTIFICATE-----\n"));
  CHECK(pem.find('\r') == std::string::npos);
  const size_t body = std::string("-----BEGIN CERTIFICATE-----\n").size();
  CHECK(pem[body + 64] == '\n');
  auto decoded = ca::Base64Decode(
      pem.substr(body, pem.size() - body - std::string("-----END CERTIFICATE-----\n").size()), 200);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == Sequence(100));
}

TEST_CASE("hex and SHA-256") {
  const unsigned char bytes[] = {0x00, 0x0f, 0xa0, 0xff};
  CHECK(ca::HexLower(bytes) == "000fa0ff");
  const std::string abc = "abc";
  CHECK(ca::Sha256Hex(std::span(reinterpret_cast<const unsigned char*>(abc.data()), abc.size())) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("Iso8601 formats UTC without a clock") {
  CHECK(ca::Iso8601(0) == "1970-01-01T00:00:00Z");
  CHECK(ca::Iso8601(1795765828) == "2026-11-27T07:50:28Z");
  CHECK(ca::Iso8601(951782400) == "2000-02-29T00:00:00Z");
  CHECK(ca::Iso8601(2840140800 - 1) == "2059-12-31T23:59:59Z");
  CHECK(ca::Iso8601(-1) == "1969-12-31T23:59:59Z");
}

TEST_CASE("MbedtlsError names the call, the code and mbedTLS's text") {
  const std::string text = ca::MbedtlsError("mbedtls_x509_crt_parse_der", -0x2180);
  CHECK(text.starts_with("mbedtls_x509_crt_parse_der: -0x2180 "));
  CHECK(text.find("X509") != std::string::npos);
  CHECK(std::string(ca::CodeName(ca::Code::kUnsupportedKey)) == "unsupported_key");
}
