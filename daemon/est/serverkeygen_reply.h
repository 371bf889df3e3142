// serverkeygen_reply.h — the RFC 7030 §4.4.2 reply (as RFC 8951 clarifies it): a multipart/mixed
// body with the private key (application/pkcs8) and the certificate (certs-only PKCS#7), both
// base64, built in undumped memory that is zeroed when dropped.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/secret_buffer.h"

namespace provisiond::est {

struct ServerKeygenReply {
  std::string content_type;  // multipart/mixed; boundary=...
  base::SecretBuffer body;
};

// `boundary`: 1-70 characters of [A-Za-z0-9'()+_,-./:=?], ending in none of them being a space;
// it must contain a character outside the base64 alphabet ('_', '-', ...), so no base64 line of
// either part can be mistaken for it. kInvalidArgument for a bad boundary or an empty part,
// kIo if the pages cannot be mapped.
base::Result<ServerKeygenReply> BuildServerKeygenReply(const base::SecretBuffer& pkcs8_der,
                                                       std::span<const unsigned char> pkcs7_certs,
                                                       std::string_view boundary);

}  // namespace provisiond::est
