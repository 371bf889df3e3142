// response.cc — serialises HTTP responses (see response.h).
#include "daemon/http/response.h"

namespace provisiond::http {

const char* StatusText(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

Response TextResponse(int status, std::string_view reason) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::string(reason) + "\n";
  return r;
}

std::string Serialize(const Response& r) {
  std::string out;
  out.reserve(256 + r.body.size());
  out += "HTTP/1.1 " + std::to_string(r.status) + " " + StatusText(r.status) + "\r\n";
  if (!r.content_type.empty()) out += "Content-Type: " + r.content_type + "\r\n";
  for (const auto& [name, value] : r.extra_headers) out += name + ": " + value + "\r\n";
  const size_t length = r.secret_body ? r.secret_body->size() : r.body.size();
  out += "Content-Length: " + std::to_string(length) + "\r\n";
  if (r.close) out += "Connection: close\r\n";
  out += "\r\n";
  if (!r.secret_body) out += r.body;
  return out;
}

}  // namespace provisiond::http
