// est_messages_test.cc — EST request texts and response checks.
#include "device-sim/est_messages.h"

#include <doctest/doctest.h>

#include "ca/encoding.h"

namespace devsim {
namespace {

TEST_CASE("requests name the operation, the label and the host") {
  const EstTarget plain{"localhost:8443", ""};
  const EstTarget labeled{"est.example:443", "line-3"};
  CHECK(CacertsRequest(plain).starts_with("GET /.well-known/est/cacerts HTTP/1.1\r\n"));
  CHECK(CacertsRequest(plain).find("Host: localhost:8443\r\n") != std::string::npos);
  CHECK(CacertsRequest(plain).find("Connection: keep-alive") != std::string::npos);
  const base::Bytes csr = {0x30, 0x03, 0x02, 0x01, 0x00};
  const std::string post = EnrollRequest(labeled, EstOperation::kReenroll, csr);
  CHECK(post.starts_with("POST /.well-known/est/line-3/simplereenroll HTTP/1.1\r\n"));
  const std::string body = post.substr(post.find("\r\n\r\n") + 4);
  CHECK(post.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
  auto decoded = ca::Base64Decode(body, 100);
  REQUIRE(decoded);
  CHECK(*decoded == csr);
  CHECK(EnrollRequest(plain, EstOperation::kEnroll, csr).find("/simpleenroll ") !=
        std::string::npos);
}

TEST_CASE("the first body line is bounded and printable") {
  CHECK(FirstLine("bootstrap certificate already used\r\nmore") ==
        "bootstrap certificate already used");
  CHECK(FirstLine("a\tb\x1b[31m") == "a?b?[31m");
  CHECK(FirstLine(std::string(500, 'x')).size() == 200);
}

TEST_CASE("a 200 that is not a certs-only PKCS#7 is a bad response") {
  HttpResponse response;
  response.status = 200;
  response.body = "not base64!";
  auto certs = CertsFromResponse(response, "enroll");
  REQUIRE_FALSE(certs);
  CHECK(certs.error().detail.starts_with("enroll: bad response: base64"));
  response.body = "MAMCAQA=";  // DER, but not PKCS#7
  certs = CertsFromResponse(response, "cacerts");
  REQUIRE_FALSE(certs);
  CHECK(certs.error().detail.starts_with("cacerts: bad response: pkcs7"));
}

}  // namespace
}  // namespace devsim
