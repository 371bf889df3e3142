// serverkeygen_reply.cc — builds the multipart/mixed serverkeygen reply (see serverkeygen_reply.h).
#include "daemon/est/serverkeygen_reply.h"

#include <algorithm>
#include <string>

#include "ca/server_key.h"

namespace provisiond::est {
namespace {

constexpr std::string_view kBoundaryChars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'()+_,-./:=?";

bool GoodBoundary(std::string_view b) {
  if (b.empty() || b.size() > 70) return false;
  if (b.find_first_not_of(kBoundaryChars) != std::string_view::npos) return false;
  // A boundary made only of base64 characters could equal a line of a part.
  return b.find_first_of("'()_,-.:?") != std::string_view::npos;
}

std::string PartHead(std::string_view boundary, std::string_view content_type) {
  return "--" + std::string(boundary) + "\r\nContent-Type: " + std::string(content_type) +
         "\r\nContent-Transfer-Encoding: base64\r\n\r\n";
}

}  // namespace

base::Result<ServerKeygenReply> BuildServerKeygenReply(const base::SecretBuffer& pkcs8_der,
                                                       std::span<const unsigned char> pkcs7_certs,
                                                       std::string_view boundary) {
  if (!GoodBoundary(boundary)) {
    return base::Fail(base::Code::kInvalidArgument, "multipart boundary not usable");
  }
  if (pkcs8_der.empty() || pkcs7_certs.empty()) {
    return base::Fail(base::Code::kInvalidArgument, "serverkeygen reply: empty part");
  }
  const std::string key_head = PartHead(boundary, "application/pkcs8");
  const std::string cert_head =
      PartHead(boundary, "application/pkcs7-mime; smime-type=certs-only");
  const std::string close = "--" + std::string(boundary) + "--\r\n";
  const size_t size = key_head.size() + ca::Base64LinesSize(pkcs8_der.size()) +
                      cert_head.size() + ca::Base64LinesSize(pkcs7_certs.size()) + close.size();
  auto body = base::SecretBuffer::Create(size);
  if (!body) return std::unexpected(body.error());
  body->Append(key_head);
  if (auto ok = ca::AppendBase64Lines(*body, {pkcs8_der.data(), pkcs8_der.size()}); !ok) {
    return base::Fail(base::Code::kInternal, ok.error().detail);
  }
  body->Append(cert_head);
  if (auto ok = ca::AppendBase64Lines(*body, pkcs7_certs); !ok) {
    return base::Fail(base::Code::kInternal, ok.error().detail);
  }
  if (!body->Append(close)) return base::Fail(base::Code::kInternal, "serverkeygen reply: size");
  return ServerKeygenReply{"multipart/mixed; boundary=" + std::string(boundary),
                           std::move(*body)};
}

}  // namespace provisiond::est
