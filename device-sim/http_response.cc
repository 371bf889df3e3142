// http_response.cc — llhttp callbacks that fill an HttpResponse while enforcing the size bounds.
#include "device-sim/http_response.h"

#include <algorithm>
#include <cctype>

namespace devsim {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

HttpResponseParser* Self(llhttp_t* p) { return static_cast<HttpResponseParser*>(p->data); }

}  // namespace

std::optional<std::string_view> HttpResponse::Header(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (EqualsIgnoreCase(field, name)) return value;
  }
  return std::nullopt;
}

// Constant-initialised (no run-time write), so worker threads share it without synchronisation.
// Designators follow the field order of llhttp_settings_t.
const llhttp_settings_t HttpResponseParser::kSettings = {
    .on_header_field = OnHeaderField,
    .on_header_value = OnHeaderValue,
    .on_headers_complete = OnHeadersComplete,
    .on_body = OnBody,
    .on_message_complete = OnMessageComplete,
    .on_header_value_complete = OnHeaderValueComplete,
};

HttpResponseParser::HttpResponseParser(size_t max_header_bytes, size_t max_body_bytes)
    : max_header_bytes_(max_header_bytes), max_body_bytes_(max_body_bytes) {
  llhttp_init(&parser_, HTTP_RESPONSE, &kSettings);
  parser_.data = this;
}

base::Result<void> HttpResponseParser::Failed() { return base::Fail(base::Code::kMalformed, error_); }

base::Result<void> HttpResponseParser::Feed(std::string_view data) {
  if (!error_.empty()) return Failed();
  bytes_seen_ += data.size();
  while (!data.empty() && !complete_) {
    size_t n = data.size();
    // While the header block is open, hand llhttp no more than the bytes still allowed, so the
    // bound holds however the stream is split (field names, values and whitespace alike).
    if (!headers_complete_) {
      const size_t room = max_header_bytes_ - header_bytes_;
      if (room == 0) {
        error_ = "response headers exceed " + std::to_string(max_header_bytes_) + " bytes";
        return Failed();
      }
      n = std::min(n, room);
      header_bytes_ += n;
    }
    const llhttp_errno_t err = llhttp_execute(&parser_, data.data(), n);
    if (complete_) return {};  // paused by OnMessageComplete
    if (err != HPE_OK) {
      if (error_.empty()) {
        error_ = std::string("bad http response: ") + llhttp_errno_name(err) + " " +
                 llhttp_get_error_reason(&parser_);
      }
      return Failed();
    }
    data.remove_prefix(n);
  }
  return {};
}

base::Result<void> HttpResponseParser::FinishAtEof() {
  if (!error_.empty()) return Failed();
  if (complete_) return {};
  if (bytes_seen_ == 0) {
    error_ = "connection closed before any response byte";
    return Failed();
  }
  const llhttp_errno_t err = llhttp_finish(&parser_);
  if (complete_) return {};
  if (error_.empty()) {
    error_ = err == HPE_OK
                 ? std::string("connection closed mid-response")
                 : std::string("connection closed mid-response: ") + llhttp_errno_name(err);
  }
  return Failed();
}

int HttpResponseParser::OnHeaderField(llhttp_t* p, const char* at, size_t len) {
  Self(p)->field_.append(at, len);
  return 0;
}

int HttpResponseParser::OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
  Self(p)->value_.append(at, len);
  return 0;
}

int HttpResponseParser::OnHeaderValueComplete(llhttp_t* p) {
  HttpResponseParser* self = Self(p);
  if (self->response_.headers.size() >= kMaxResponseHeaders) {
    self->error_ = "more than " + std::to_string(kMaxResponseHeaders) + " response headers";
    return -1;
  }
  self->response_.headers.emplace_back(std::move(self->field_), std::move(self->value_));
  self->field_.clear();
  self->value_.clear();
  return 0;
}

int HttpResponseParser::OnHeadersComplete(llhttp_t* p) {
  HttpResponseParser* self = Self(p);
  self->headers_complete_ = true;
  self->response_.status = llhttp_get_status_code(p);
  // Refuse a declared oversize body before reading any of it.
  if ((p->flags & F_CONTENT_LENGTH) != 0 && p->content_length > self->max_body_bytes_) {
    self->error_ = "response body of " + std::to_string(p->content_length) + " bytes exceeds " +
                   std::to_string(self->max_body_bytes_);
    return -1;
  }
  return 0;
}

int HttpResponseParser::OnBody(llhttp_t* p, const char* at, size_t len) {
  HttpResponseParser* self = Self(p);
  if (self->response_.body.size() + len > self->max_body_bytes_) {
    self->error_ = "response body exceeds " + std::to_string(self->max_body_bytes_) + " bytes";
    return -1;
  }
  self->response_.body.append(at, len);
  return 0;
}

int HttpResponseParser::OnMessageComplete(llhttp_t* p) {
  HttpResponseParser* self = Self(p);
  self->response_.keep_alive = llhttp_should_keep_alive(p) != 0;
  self->complete_ = true;
  return HPE_PAUSED;  // one response per parser; the caller decides what comes next
}

}  // namespace devsim
