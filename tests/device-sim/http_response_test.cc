// http_response_test.cc — the bounded llhttp response parser, fed whole, byte by byte and cut
// short.
#include "device-sim/http_response.h"

#include <doctest/doctest.h>

#include <string>

namespace devsim {
namespace {

// Feeds `text` in pieces of `chunk` bytes; stops at the first error.
base::Result<void> FeedInChunks(HttpResponseParser& parser, std::string_view text, size_t chunk) {
  for (size_t pos = 0; pos < text.size(); pos += chunk) {
    if (auto fed = parser.Feed(text.substr(pos, chunk)); !fed) return fed;
  }
  return {};
}

constexpr std::string_view kOk =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/pkcs7-mime\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Length: 12\r\n"
    "\r\n"
    "TUlJQ2FBQT09";

TEST_CASE("a complete response in one piece") {
  HttpResponseParser parser;
  REQUIRE(parser.Feed(kOk));
  REQUIRE(parser.complete());
  const HttpResponse& r = parser.response();
  CHECK(r.status == 200);
  CHECK(r.body == "TUlJQ2FBQT09");
  CHECK(r.keep_alive);
  CHECK(r.headers.size() == 3);
  CHECK(r.Header("content-type") == "application/pkcs7-mime");
  CHECK(r.Header("CONTENT-TRANSFER-ENCODING") == "base64");
  CHECK_FALSE(r.Header("Location").has_value());
}

TEST_CASE("a response split into many small chunks parses the same") {
  for (size_t chunk : {1, 2, 3, 7, 16}) {
    CAPTURE(chunk);
    HttpResponseParser parser;
    REQUIRE(FeedInChunks(parser, kOk, chunk));
    REQUIRE(parser.complete());
    CHECK(parser.response().status == 200);
    CHECK(parser.response().body == "TUlJQ2FBQT09");
    CHECK(parser.response().Header("Content-Length") == "12");
  }
}

TEST_CASE("a chunked body split byte by byte is de-chunked") {
  constexpr std::string_view text =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  HttpResponseParser parser;
  REQUIRE(FeedInChunks(parser, text, 1));
  REQUIRE(parser.complete());
  CHECK(parser.response().body == "hello world");
}

TEST_CASE("without Content-Length the body runs to EOF") {
  HttpResponseParser parser;
  REQUIRE(parser.Feed("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello "));
  REQUIRE(parser.Feed("world"));
  CHECK_FALSE(parser.complete());
  REQUIRE(parser.FinishAtEof());
  REQUIRE(parser.complete());
  CHECK(parser.response().body == "hello world");
  CHECK_FALSE(parser.response().keep_alive);
}

TEST_CASE("a 4xx with a text body is a complete response, not an error") {
  HttpResponseParser parser;
  REQUIRE(
      parser.Feed("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 29\r\n"
                  "Connection: close\r\n\r\nbootstrap certificate expired"));
  REQUIRE(parser.complete());
  CHECK(parser.response().status == 403);
  CHECK(parser.response().body == "bootstrap certificate expired");
  CHECK_FALSE(parser.response().keep_alive);
}

TEST_CASE("headers beyond the limit are rejected however they arrive") {
  const std::string text =
      "HTTP/1.1 200 OK\r\nX-Pad: " + std::string(kMaxResponseHeaderBytes, 'a') +
      "\r\nContent-Length: 0\r\n\r\n";
  for (size_t chunk : {size_t{1} << 20, size_t{100}}) {
    HttpResponseParser parser;
    auto fed = FeedInChunks(parser, text, chunk);
    REQUIRE_FALSE(fed);
    CHECK(fed.error().code == base::Code::kMalformed);
    CHECK(fed.error().detail.find("headers exceed") != std::string::npos);
    CHECK_FALSE(parser.complete());
    CHECK_FALSE(parser.Feed("more"));  // errors are final
  }
}

TEST_CASE("headers just under the limit are accepted") {
  const std::string head = "HTTP/1.1 204 No Content\r\nX-Pad: ";
  const std::string tail = "\r\n\r\n";
  const std::string text =
      head + std::string(kMaxResponseHeaderBytes - head.size() - tail.size(), 'a') + tail;
  HttpResponseParser parser;
  REQUIRE(parser.Feed(text));
  CHECK(parser.complete());
}

TEST_CASE("too many header fields are rejected") {
  std::string text = "HTTP/1.1 200 OK\r\n";
  for (size_t i = 0; i <= kMaxResponseHeaders; ++i) text += "X: y\r\n";
  HttpResponseParser parser;
  CHECK_FALSE(parser.Feed(text + "\r\n"));
}

TEST_CASE("a declared oversize body is rejected before it is read") {
  HttpResponseParser parser;
  auto fed = parser.Feed("HTTP/1.1 200 OK\r\nContent-Length: " +
                         std::to_string(kMaxResponseBodyBytes + 1) + "\r\n\r\n");
  REQUIRE_FALSE(fed);
  CHECK(fed.error().detail.find("exceeds") != std::string::npos);
}

TEST_CASE("an undeclared oversize body is rejected as it grows") {
  const std::string big(kMaxResponseBodyBytes + 1, 'x');
  SUBCASE("chunked") {
    HttpResponseParser parser;
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", big.size());
    CHECK_FALSE(parser.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                            std::string(size_line) + big));
  }
  SUBCASE("until EOF") {
    HttpResponseParser parser;
    REQUIRE(parser.Feed("HTTP/1.1 200 OK\r\n\r\n"));
    CHECK_FALSE(FeedInChunks(parser, big, 4096));
  }
}

TEST_CASE("a body exactly at the limit is accepted") {
  HttpResponseParser parser;
  REQUIRE(
      parser.Feed("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kMaxResponseBodyBytes) +
                  "\r\n\r\n" + std::string(kMaxResponseBodyBytes, 'x')));
  CHECK(parser.complete());
}

TEST_CASE("EOF before the end of the message is an error") {
  SUBCASE("no bytes at all") {
    HttpResponseParser parser;
    CHECK_FALSE(parser.started());
    CHECK_FALSE(parser.FinishAtEof());
  }
  SUBCASE("inside the headers") {
    HttpResponseParser parser;
    REQUIRE(parser.Feed("HTTP/1.1 200 OK\r\nContent-Le"));
    CHECK(parser.started());
    CHECK_FALSE(parser.FinishAtEof());
  }
  SUBCASE("short of Content-Length") {
    HttpResponseParser parser;
    REQUIRE(parser.Feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
    CHECK_FALSE(parser.FinishAtEof());
  }
}

TEST_CASE("garbage is malformed") {
  HttpResponseParser parser;
  auto fed = parser.Feed("SSH-2.0-OpenSSH_9.2\r\n");
  REQUIRE_FALSE(fed);
  CHECK(fed.error().code == base::Code::kMalformed);
}

TEST_CASE("bytes after a complete response are ignored") {
  HttpResponseParser parser;
  REQUIRE(parser.Feed(std::string(kOk) + "HTTP/1.1 500 Oops\r\n\r\n"));
  REQUIRE(parser.complete());
  CHECK(parser.response().status == 200);
  CHECK(parser.Feed("more"));
}

}  // namespace
}  // namespace devsim
