// request_parser.h — HTTP/1.1 request parsing on llhttp, with every size bounded before it is
// buffered. Untrusted bytes go in; a complete Request or an HTTP error status comes out.
#pragma once

#include <llhttp.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace provisiond::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/.well-known/est/simpleenroll"
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  bool keep_alive = false;

  // The value of the first header with this (lower-case) name.
  std::optional<std::string_view> Header(std::string_view lower_name) const;
};

struct ParseLimits {
  size_t max_header_bytes = 16 * 1024;  // request line + all header names and values
  size_t max_headers = 64;
  size_t max_body_bytes = 16 * 1024;
};

// State machine: kNeedMore --(headers)--> [continue_requested] --(body)--> kComplete | kError.
// After kComplete the caller handles the request, then calls NextRequest() to parse the next one
// on a keep-alive connection (bytes already fed beyond the first request are kept).
class RequestParser {
 public:
  enum class State { kNeedMore, kComplete, kError };

  explicit RequestParser(const ParseLimits& limits);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Feeds bytes. Bytes past the end of a complete request are kept for the next one.
  State Feed(std::string_view data);
  State state() const { return state_; }

  // Valid in kComplete.
  const Request& request() const { return request_; }
  // Valid in kError: the status to answer (400, 411, 413, 431) and a one-line reason.
  int error_status() const { return error_status_; }
  const std::string& error_reason() const { return error_reason_; }
  // True once, when the headers carried "Expect: 100-continue" and the body is still to come.
  bool TakeContinueRequest();
  // True if any byte of a request has been received (for choosing idle vs request timeouts).
  bool InProgress() const { return in_progress_ || !pending_.empty(); }

  // Resets for the next request on the same connection and parses bytes already received.
  State NextRequest();

 private:
  static int OnMessageBegin(llhttp_t* p);
  static int OnUrl(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderField(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBody(llhttp_t* p, const char* at, size_t len);
  static int OnMessageComplete(llhttp_t* p);

  bool CountHeaderBytes(size_t n);
  int Fail(int status, std::string reason);
  State Execute(std::string_view data);

  ParseLimits limits_;
  llhttp_settings_t settings_;
  llhttp_t parser_;
  State state_ = State::kNeedMore;
  Request request_;
  size_t header_bytes_ = 0;
  bool in_value_ = false;
  bool in_progress_ = false;
  bool continue_requested_ = false;
  int error_status_ = 0;
  std::string error_reason_;
  std::string pending_;  // bytes received after a complete request
};

}  // namespace provisiond::http
