// request_parser.cc — bounded HTTP/1.1 request parsing on llhttp (see request_parser.h).
#include "daemon/http/request_parser.h"

#include <algorithm>
#include <cctype>

namespace provisiond::http {
namespace {

RequestParser* Self(llhttp_t* p) { return static_cast<RequestParser*>(p->data); }

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::optional<std::string_view> Request::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return std::string_view(value);
  }
  return std::nullopt;
}

RequestParser::RequestParser(const ParseLimits& limits) : limits_(limits) {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = &RequestParser::OnMessageBegin;
  settings_.on_url = &RequestParser::OnUrl;
  settings_.on_header_field = &RequestParser::OnHeaderField;
  settings_.on_header_value = &RequestParser::OnHeaderValue;
  settings_.on_headers_complete = &RequestParser::OnHeadersComplete;
  settings_.on_body = &RequestParser::OnBody;
  settings_.on_message_complete = &RequestParser::OnMessageComplete;
  llhttp_init(&parser_, HTTP_REQUEST, &settings_);
  parser_.data = this;
}

bool RequestParser::CountHeaderBytes(size_t n) {
  header_bytes_ += n;
  return header_bytes_ <= limits_.max_header_bytes;
}

int RequestParser::Fail(int status, std::string reason) {
  error_status_ = status;
  error_reason_ = std::move(reason);
  return HPE_USER;
}

int RequestParser::OnMessageBegin(llhttp_t* p) {
  Self(p)->in_progress_ = true;
  return 0;
}

int RequestParser::OnUrl(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (!self->CountHeaderBytes(len)) return self->Fail(431, "request header fields too large");
  self->request_.target.append(at, len);
  return 0;
}

int RequestParser::OnHeaderField(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (!self->CountHeaderBytes(len)) return self->Fail(431, "request header fields too large");
  auto& headers = self->request_.headers;
  if (headers.empty() || self->in_value_) {
    if (headers.size() >= self->limits_.max_headers) {
      return self->Fail(431, "too many request header fields");
    }
    headers.emplace_back();
    self->in_value_ = false;
  }
  headers.back().first += Lower(std::string_view(at, len));
  return 0;
}

int RequestParser::OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (!self->CountHeaderBytes(len)) return self->Fail(431, "request header fields too large");
  self->in_value_ = true;
  self->request_.headers.back().second.append(at, len);
  return 0;
}

// The size decisions happen here, before any body byte is buffered.
int RequestParser::OnHeadersComplete(llhttp_t* p) {
  RequestParser* self = Self(p);
  Request& r = self->request_;
  r.method = llhttp_method_name(static_cast<llhttp_method_t>(llhttp_get_method(p)));
  r.keep_alive = llhttp_should_keep_alive(p) != 0;
  const bool has_length = (p->flags & F_CONTENT_LENGTH) != 0;
  if (p->flags & F_CHUNKED) {
    if (has_length) return self->Fail(400, "both Content-Length and chunked encoding");
    return self->Fail(411, "chunked request bodies are not accepted; send Content-Length");
  }
  if (r.method == "POST" && !has_length) return self->Fail(411, "Content-Length required");
  if (has_length && p->content_length > self->limits_.max_body_bytes) {
    return self->Fail(413, "request body larger than " +
                               std::to_string(self->limits_.max_body_bytes) + " bytes");
  }
  auto expect = r.Header("expect");
  if (expect && Lower(*expect) == "100-continue" && has_length && p->content_length > 0) {
    self->continue_requested_ = true;
  }
  r.body.reserve(has_length ? p->content_length : 0);
  return 0;
}

int RequestParser::OnBody(llhttp_t* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (self->request_.body.size() + len > self->limits_.max_body_bytes) {
    return self->Fail(413, "request body too large");
  }
  self->request_.body.append(at, len);
  return 0;
}

int RequestParser::OnMessageComplete(llhttp_t* p) {
  Self(p)->state_ = State::kComplete;
  return HPE_PAUSED;  // one request at a time; the rest stays in pending_
}

RequestParser::State RequestParser::Execute(std::string_view data) {
  llhttp_errno_t err = llhttp_execute(&parser_, data.data(), data.size());
  if (err == HPE_OK) return state_;
  if (err == HPE_PAUSED && state_ == State::kComplete) {
    const char* pos = llhttp_get_error_pos(&parser_);
    size_t used = pos ? static_cast<size_t>(pos - data.data()) : data.size();
    pending_.assign(data.substr(std::min(used, data.size())));
    return state_;
  }
  state_ = State::kError;
  // Our callbacks set error_status_ before failing (llhttp reports that as HPE_USER or, from
  // on_headers_complete, HPE_CB_HEADERS_COMPLETE); anything else is llhttp's own verdict.
  if (error_status_ == 0) {
    error_status_ = 400;
    error_reason_ = std::string("malformed HTTP request: ") + llhttp_errno_name(err);
  }
  return state_;
}

RequestParser::State RequestParser::Feed(std::string_view data) {
  if (state_ == State::kError) return state_;
  if (state_ == State::kComplete) {
    pending_.append(data);
    return state_;
  }
  return Execute(data);
}

bool RequestParser::TakeContinueRequest() {
  bool r = continue_requested_ && request_.body.empty();
  continue_requested_ = false;
  return r;
}

RequestParser::State RequestParser::NextRequest() {
  request_ = Request{};
  header_bytes_ = 0;
  in_value_ = false;
  in_progress_ = false;
  continue_requested_ = false;
  state_ = State::kNeedMore;
  llhttp_resume(&parser_);
  std::string pending = std::move(pending_);
  pending_.clear();
  if (pending.empty()) return state_;
  return Execute(pending);
}

}  // namespace provisiond::http
