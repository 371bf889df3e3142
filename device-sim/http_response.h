// http_response.h — an incremental HTTP/1.1 response parser (llhttp) with hard bounds on header
// and body size. Pure: it consumes bytes and knows nothing about sockets, so tests feed it
// directly.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace devsim {

inline constexpr size_t kMaxResponseHeaderBytes = 16 * 1024;
inline constexpr size_t kMaxResponseBodyBytes = 64 * 1024;
inline constexpr size_t kMaxResponseHeaders = 100;

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // in arrival order, names as sent
  std::string body;         // de-chunked when Transfer-Encoding: chunked
  bool keep_alive = false;  // the server allows another request on this connection

  // Value of the first header with this name (ASCII case-insensitive), if any.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// Parses exactly one response. Feed() bytes as they arrive; FinishAtEof() when the peer closes.
// Once complete(), further bytes are ignored (this client never pipelines).
// Bounds: the raw header block (status line through the blank line) at most max_header_bytes and
// kMaxResponseHeaders fields; the body at most max_body_bytes, checked against Content-Length
// before any body byte is stored. Any violation or syntax error is kMalformed and final.
class HttpResponseParser {
 public:
  explicit HttpResponseParser(size_t max_header_bytes = kMaxResponseHeaderBytes,
                              size_t max_body_bytes = kMaxResponseBodyBytes);
  HttpResponseParser(const HttpResponseParser&) = delete;
  HttpResponseParser& operator=(const HttpResponseParser&) = delete;

  base::Result<void> Feed(std::string_view data);
  // The peer closed the stream: completes a body delimited by EOF; kMalformed mid-message.
  base::Result<void> FinishAtEof();

  bool complete() const { return complete_; }
  bool started() const { return bytes_seen_ > 0; }
  // Valid once complete().
  const HttpResponse& response() const { return response_; }

 private:
  static int OnHeaderField(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderValueComplete(llhttp_t* p);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBody(llhttp_t* p, const char* at, size_t len);
  static int OnMessageComplete(llhttp_t* p);
  static const llhttp_settings_t kSettings;

  base::Result<void> Failed();

  llhttp_t parser_;
  size_t max_header_bytes_;
  size_t max_body_bytes_;
  size_t header_bytes_ = 0;  // raw bytes fed while the header block was still open
  size_t bytes_seen_ = 0;
  bool headers_complete_ = false;
  bool complete_ = false;
  std::string error_;  // set once; every later call fails with it
  std::string field_;
  std::string value_;
  HttpResponse response_;
};

}  // namespace devsim
