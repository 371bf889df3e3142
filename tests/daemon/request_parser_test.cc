// request_parser_test.cc — bounds and framing of the daemon's HTTP request parser.
#include "daemon/http/request_parser.h"

#include <doctest/doctest.h>

#include <string>

using provisiond::http::ParseLimits;
using provisiond::http::RequestParser;
using State = RequestParser::State;

namespace {
const std::string kPost =
    "POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\n"
    "Content-Type: application/pkcs10\r\nContent-Length: 5\r\n\r\nABCDE";
}

TEST_CASE("a complete request, fed byte by byte") {
  RequestParser p(ParseLimits{});
  State s = State::kNeedMore;
  for (char c : kPost) s = p.Feed(std::string_view(&c, 1));
  REQUIRE(s == State::kComplete);
  CHECK(p.request().method == "POST");
  CHECK(p.request().target == "/.well-known/est/simpleenroll");
  CHECK(p.request().body == "ABCDE");
  CHECK(p.request().Header("content-type") == "application/pkcs10");
  CHECK(p.request().keep_alive);
}

TEST_CASE("keep-alive: a second request in the same bytes is parsed after NextRequest") {
  RequestParser p(ParseLimits{});
  std::string two = kPost + "GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(p.Feed(two) == State::kComplete);
  CHECK(p.request().body == "ABCDE");
  REQUIRE(p.NextRequest() == State::kComplete);
  CHECK(p.request().method == "GET");
  CHECK(p.request().target == "/.well-known/est/cacerts");
}

TEST_CASE("Connection: close is seen") {
  RequestParser p(ParseLimits{});
  REQUIRE(p.Feed("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == State::kComplete);
  CHECK_FALSE(p.request().keep_alive);
}

TEST_CASE("limits: headers, body, missing length, chunked, bad length") {
  ParseLimits limits{.max_header_bytes = 256, .max_headers = 4, .max_body_bytes = 16};
  {
    RequestParser p(limits);
    CHECK(p.Feed("GET / HTTP/1.1\r\nX: " + std::string(300, 'a') + "\r\n\r\n") == State::kError);
    CHECK(p.error_status() == 431);
  }
  {
    RequestParser p(limits);
    CHECK(p.Feed("GET / HTTP/1.1\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n\r\n") == State::kError);
    CHECK(p.error_status() == 431);
  }
  {
    RequestParser p(limits);
    CHECK(p.Feed("POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n") == State::kError);
    CHECK(p.error_status() == 413);  // refused before a body byte is buffered
  }
  {
    RequestParser p(limits);
    CHECK(p.Feed("POST / HTTP/1.1\r\nHost: x\r\n\r\n") == State::kError);
    CHECK(p.error_status() == 411);
  }
  {
    RequestParser p(limits);
    CHECK(p.Feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") == State::kError);
    CHECK(p.error_status() == 411);
  }
  for (const char* cl : {"-1", "abc", "5\r\nContent-Length: 5"}) {
    RequestParser p(limits);
    CHECK(p.Feed(std::string("POST / HTTP/1.1\r\nContent-Length: ") + cl + "\r\n\r\nABCDE") ==
          State::kError);
    CHECK(p.error_status() == 400);
  }
  {
    RequestParser p(limits);
    CHECK(p.Feed("NOT HTTP AT ALL\r\n\r\n") == State::kError);
    CHECK(p.error_status() == 400);
  }
}

TEST_CASE("Expect: 100-continue is reported once, before the body") {
  RequestParser p(ParseLimits{});
  REQUIRE(p.Feed("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n") ==
          State::kNeedMore);
  CHECK(p.TakeContinueRequest());
  CHECK_FALSE(p.TakeContinueRequest());
  CHECK(p.Feed("abc") == State::kComplete);
  CHECK(p.request().body == "abc");
}
