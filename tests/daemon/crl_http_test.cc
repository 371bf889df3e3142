// crl_http_test.cc — tests daemon/crl_http.cc (the CRL listener's answers, no socket) and the
// side listener it runs on (daemon/side_http.cc): bounded, concurrent, hostile clients answered.
#include "daemon/crl_http.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "daemon/net.h"
#include "daemon/side_http.h"
#include "tests/daemon/loopback_http.h"

namespace provisiond {
namespace {

constexpr base::UnixTime kThisUpdate = 1777593600;  // Fri, 01 May 2026 00:00:00 GMT

PublishedCrl Sample() {
  PublishedCrl crl;
  crl.der = std::string("\x30\x03\x02\x01\x05", 5);
  crl.pem = "-----BEGIN X509 CRL-----\nMAMCAQU=\n-----END X509 CRL-----\n";
  crl.number = 5;
  crl.this_update = kThisUpdate;
  crl.next_regeneration = kThisUpdate + 3600;
  crl.etag = "\"crl-5\"";
  return crl;
}

std::string Answer(const std::string& head, const PublishedCrl* crl = nullptr) {
  static const PublishedCrl sample = Sample();
  return AnswerCrlRequest(head, crl ? crl : &sample, kThisUpdate + 600);
}

bool Starts(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }
bool Has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("GET /crl and /crl.pem carry the CRL and its validators") {
  std::string r = Answer("GET /crl HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(Starts(r, "HTTP/1.1 200 OK\r\n"));
  CHECK(Has(r, "Content-Type: application/pkix-crl\r\n"));
  CHECK(Has(r, "Content-Length: 5\r\n"));
  CHECK(Has(r, "ETag: \"crl-5\"\r\n"));
  CHECK(Has(r, "Last-Modified: Fri, 01 May 2026 00:00:00 GMT\r\n"));
  CHECK(Has(r, "Cache-Control: public, max-age=3000\r\n"));  // 3600 - 600 s to the next one
  CHECK(r.ends_with(std::string("\r\n\r\n\x30\x03\x02\x01\x05", 9)));
  std::string pem = Answer("GET /crl.pem HTTP/1.0\r\n\r\n");
  CHECK(Has(pem, "Content-Type: application/x-pem-file\r\n"));
  CHECK(pem.ends_with("-----END X509 CRL-----\n"));
  std::string head = Answer("HEAD /crl HTTP/1.1\r\n\r\n");
  CHECK(Starts(head, "HTTP/1.1 200"));
  CHECK(Has(head, "Content-Length: 5\r\n"));
  CHECK(head.ends_with("\r\n\r\n"));  // no body
}

TEST_CASE("conditional GETs: If-None-Match wins over If-Modified-Since") {
  auto status = [](const std::string& headers) {
    return Answer("GET /crl HTTP/1.1\r\n" + headers + "\r\n").substr(0, 12);
  };
  CHECK(status("If-None-Match: \"crl-5\"\r\n") == "HTTP/1.1 304");
  CHECK(status("if-none-match: \"a\", W/\"crl-5\"\r\n") == "HTTP/1.1 304");
  CHECK(status("If-None-Match: *\r\n") == "HTTP/1.1 304");
  CHECK(status("If-None-Match: \"crl-4\"\r\n") == "HTTP/1.1 200");
  CHECK(status("If-Modified-Since: Fri, 01 May 2026 00:00:00 GMT\r\n") == "HTTP/1.1 304");
  CHECK(status("If-Modified-Since: Thu, 30 Apr 2026 23:59:59 GMT\r\n") == "HTTP/1.1 200");
  CHECK(status("If-Modified-Since: yesterday\r\n") == "HTTP/1.1 200");
  CHECK(
      status("If-None-Match: \"crl-4\"\r\nIf-Modified-Since: Fri, 01 May 2026 00:00:00 GMT\r\n") ==
      "HTTP/1.1 200");
  std::string not_modified = Answer("GET /crl HTTP/1.1\r\nIf-None-Match: \"crl-5\"\r\n\r\n");
  CHECK(Has(not_modified, "ETag: \"crl-5\"\r\n"));
  CHECK_FALSE(Has(not_modified, "Content-Length"));
  CHECK(not_modified.ends_with("\r\n\r\n"));
}

TEST_CASE("other paths, methods and malformed requests are refused, and none yet is 503") {
  CHECK(Starts(Answer("GET /../crl HTTP/1.1\r\n\r\n"), "HTTP/1.1 404"));
  CHECK(Starts(Answer("GET /crl/ HTTP/1.1\r\n\r\n"), "HTTP/1.1 404"));
  CHECK(Starts(Answer("GET http://x/crl HTTP/1.1\r\n\r\n"), "HTTP/1.1 404"));
  std::string post = Answer("POST /crl HTTP/1.1\r\n\r\n");
  CHECK(Starts(post, "HTTP/1.1 405"));
  CHECK(Has(post, "Allow: GET, HEAD\r\n"));
  CHECK(Starts(Answer("DELETE /crl HTTP/1.1\r\n\r\n"), "HTTP/1.1 405"));
  CHECK(Starts(Answer("garbage\r\n\r\n"), "HTTP/1.1 400"));
  CHECK(Starts(Answer("GET /crl SPDY/3\r\n\r\n"), "HTTP/1.1 400"));
  std::string none = AnswerCrlRequest("GET /crl HTTP/1.1\r\n\r\n", nullptr, kThisUpdate);
  CHECK(Starts(none, "HTTP/1.1 503"));
  // Jittered (daemon/retry_after.h): 1 or 2 seconds.
  CHECK((Has(none, "Retry-After: 1\r\n") || Has(none, "Retry-After: 2\r\n")));
}

TEST_CASE("HTTP dates round-trip, and others are not dates") {
  CHECK(HttpDate(kThisUpdate) == "Fri, 01 May 2026 00:00:00 GMT");
  CHECK(ParseHttpDate(HttpDate(kThisUpdate)) == kThisUpdate);
  CHECK_FALSE(ParseHttpDate("Fri, 01 May 2026 00:00:00 UTC").has_value());
  CHECK_FALSE(ParseHttpDate("Friday, 01-May-26 00:00:00 GMT").has_value());
  CHECK_FALSE(ParseHttpDate("").has_value());
}

using testhttp::Connect;
using testhttp::Fetch;

TEST_CASE("silent clients hold only their own slot, and a huge head gets 431") {
  auto fd = ListenTcp("127.0.0.1:0", 64);
  REQUIRE(fd.has_value());
  auto http = SideHttp::Start(
      std::move(*fd), [](std::string_view head) { return Answer(std::string(head)); }, "crl-test",
      std::chrono::milliseconds(1500));
  REQUIRE(http.has_value());
  const std::string& address = (*http)->address();
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  std::vector<int> silent;
  for (int i = 0; i < 10; ++i) silent.push_back(Connect(port));  // slowloris: connect, send nothing
  const auto start = std::chrono::steady_clock::now();
  CHECK(Starts(Fetch(port, "GET /crl HTTP/1.1\r\n\r\n"), "HTTP/1.1 200"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1000));
  std::string big = "GET /crl HTTP/1.1\r\nX: " + std::string(5000, 'a') + "\r\n\r\n";
  CHECK(Starts(Fetch(port, big), "HTTP/1.1 431"));
  // The silent ones are cut at their deadline (recv sees the close).
  char c;
  CHECK(::recv(silent.front(), &c, 1, 0) == 0);
  for (int s : silent) ::close(s);
  CHECK(Starts(Fetch(port, "HEAD /crl HTTP/1.1\r\n\r\n"), "HTTP/1.1 200"));
}

}  // namespace provisiond

namespace provisiond {

TEST_CASE("each CA generation's CRL has its own path; an unserved generation is 404") {
  bool pem = false;
  CHECK(CrlPathGeneration("/crl", &pem) == 1);
  CHECK_FALSE(pem);
  CHECK(CrlPathGeneration("/crl.pem", &pem) == 1);
  CHECK(pem);
  CHECK(CrlPathGeneration("/crl-gen2", &pem) == 2);
  CHECK(CrlPathGeneration("/crl-gen12.pem", &pem) == 12);
  CHECK(pem);
  for (const char* other : {"/crl-gen", "/crl-gen1", "/crl-gen02", "/crl-gen2x", "/crl-gen-2",
                            "/crl.pem.pem", "/crl-gen2/", "/crl-gen99999999999999999999"}) {
    CHECK_MESSAGE(!CrlPathGeneration(other, &pem).has_value(), other);
  }
  auto one = std::make_shared<PublishedCrl>(Sample());
  auto two = std::make_shared<PublishedCrl>(Sample());
  two->etag = "\"crl-6\"";
  two->der = "gen2";
  const CrlsByGen crls{{2, two}, {3, nullptr}};
  const std::string r2 = AnswerCrlRequest("GET /crl-gen2 HTTP/1.1\r\n\r\n", crls, kThisUpdate);
  CHECK(Starts(r2, "HTTP/1.1 200"));
  CHECK(Has(r2, "ETag: \"crl-6\""));
  CHECK(r2.ends_with("gen2"));
  CHECK(Starts(AnswerCrlRequest("GET /crl HTTP/1.1\r\n\r\n", crls, kThisUpdate), "HTTP/1.1 404"));
  CHECK(Starts(AnswerCrlRequest("GET /crl-gen3 HTTP/1.1\r\n\r\n", crls, kThisUpdate),
               "HTTP/1.1 503"));
  CHECK(Starts(AnswerCrlRequest("GET /crl-gen4 HTTP/1.1\r\n\r\n", crls, kThisUpdate),
               "HTTP/1.1 404"));
  CHECK(Starts(AnswerCrlRequest("GET /crl HTTP/1.1\r\n\r\n", CrlsByGen{{1, one}}, kThisUpdate),
               "HTTP/1.1 200"));
}

}  // namespace provisiond
