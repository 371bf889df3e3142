// keygen_reply.cc — splits and decodes the serverkeygen multipart reply (see keygen_reply.h).
#include "device-sim/keygen_reply.h"

#include <mbedtls/platform_util.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "ca/encoding.h"
#include "ca/pkcs7.h"

namespace devsim {
namespace {

struct Part {
  std::string content_type;  // lowercase, parameters kept
  std::string body;
};

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The boundary parameter of a multipart/mixed Content-Type ("" if it is not one).
std::string BoundaryOf(std::string_view content_type) {
  const std::string lower = Lower(content_type);
  if (!lower.starts_with("multipart/mixed")) return "";
  const size_t at = lower.find("boundary=");
  if (at == std::string::npos) return "";
  std::string b(content_type.substr(at + 9));
  b = b.substr(0, b.find(';'));
  if (b.size() >= 2 && b.front() == '"' && b.back() == '"') b = b.substr(1, b.size() - 2);
  return b;
}

// The parts between "--boundary" lines, up to "--boundary--"; false if malformed.
bool SplitParts(std::string_view body, const std::string& boundary, std::vector<Part>* parts) {
  const std::string delimiter = "--" + boundary;
  size_t at = body.find(delimiter);
  if (at == std::string_view::npos) return false;
  while (true) {
    at += delimiter.size();
    if (body.substr(at, 2) == "--") return true;  // the close delimiter
    const size_t head_end = body.find("\r\n\r\n", at);
    const size_t next = body.find("\r\n" + delimiter, at);
    if (head_end == std::string_view::npos || next == std::string_view::npos || next < head_end) {
      return false;
    }
    Part part;
    const std::string head = Lower(body.substr(at, head_end - at));
    const size_t ct = head.find("content-type:");
    if (ct == std::string::npos) return false;
    part.content_type = head.substr(ct + 13, head.find("\r\n", ct) - ct - 13);
    part.content_type.erase(0, part.content_type.find_first_not_of(" \t"));
    part.body = std::string(body.substr(head_end + 4, next - head_end - 4));
    parts->push_back(std::move(part));
    if (parts->size() > 2) return false;
    at = next + 2;
  }
}

}  // namespace

ca::Result<KeygenReply> ParseKeygenReply(const HttpResponse& response, std::string_view step,
                                         ca::Rng rng) {
  const std::string bad = std::string(step) + ": bad response: ";
  const std::string boundary = BoundaryOf(response.Header("Content-Type").value_or(""));
  if (boundary.empty()) return ca::Fail(ca::Code::kMalformed, bad + "not multipart/mixed");
  std::vector<Part> parts;
  if (!SplitParts(response.body, boundary, &parts) || parts.size() != 2) {
    return ca::Fail(ca::Code::kMalformed, bad + "multipart: not two parts");
  }
  KeygenReply reply;
  for (Part& part : parts) {
    auto der = ca::Base64Decode(part.body, kMaxResponseBodyBytes);
    mbedtls_platform_zeroize(part.body.data(), part.body.size());
    if (!der) return ca::Fail(ca::Code::kMalformed, bad + "base64: " + der.error().detail);
    if (part.content_type == "application/pkcs8") {
      auto key = ca::PrivateKey::Parse(
          std::string_view(reinterpret_cast<const char*>(der->data()), der->size()), rng);
      mbedtls_platform_zeroize(der->data(), der->size());
      if (!key) return ca::Fail(ca::Code::kMalformed, bad + "pkcs8: " + key.error().detail);
      if (!ca::IsP256(*(*key)->pk())) return ca::Fail(ca::Code::kMalformed, bad + "key not P-256");
      auto spki = (*key)->PublicKeyDer();
      if (!spki) return std::unexpected(spki.error());
      reply.key = std::move(*key);
      reply.public_key = std::move(*spki);
    } else if (part.content_type.starts_with("application/pkcs7-mime")) {
      auto certs = ca::ParseCertsOnlyPkcs7(*der);
      if (!certs || certs->empty()) return ca::Fail(ca::Code::kMalformed, bad + "pkcs7");
      reply.certs = std::move(*certs);
    }
  }
  if (!reply.key || reply.certs.empty()) {
    return ca::Fail(ca::Code::kMalformed, bad + "multipart: a key and a certificate are needed");
  }
  return reply;
}

}  // namespace devsim
