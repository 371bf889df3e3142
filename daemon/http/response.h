// response.h — HTTP/1.1 responses as EST clients (libest, curl, RFC 8951) expect them: status line
// "HTTP/1.1", exact header spellings, Content-Length always, written in one piece.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/secret_buffer.h"

namespace provisiond::http {

struct Response {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> extra_headers;  // e.g. Retry-After
  bool close = false;  // send "Connection: close" and close after writing
  // When set, the body is this (key material: serverkeygen) and `body` is ignored: the connection
  // writes it from undumped memory and zeroes it once sent (or when the connection ends).
  std::shared_ptr<base::SecretBuffer> secret_body;
};

// A text/plain error whose body is the one-line reason.
Response TextResponse(int status, std::string_view reason);

// The whole response; for a secret_body, only the status line and headers (Content-Length counts
// the secret body, which the caller sends after them).
std::string Serialize(const Response& response);

const char* StatusText(int status);

}  // namespace provisiond::http
