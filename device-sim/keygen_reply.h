// keygen_reply.h — device-sim's reading of a serverkeygen reply (RFC 7030 §4.4.2, RFC 8951):
// multipart/mixed with an application/pkcs8 part (the key) and a certs-only PKCS#7 part. Pure.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "base/types.h"
#include "ca/error.h"
#include "ca/keys.h"
#include "ca/rng.h"
#include "device-sim/http_response.h"

namespace devsim {

struct KeygenReply {
  std::unique_ptr<ca::PrivateKey> key;  // parsed from the PKCS#8 part (EC P-256)
  base::Bytes public_key;               // its SubjectPublicKeyInfo DER
  std::vector<base::Bytes> certs;       // from the PKCS#7 part, >= 1
};

// kMalformed "<step>: bad response: ..." unless the 200 response is multipart/mixed with a
// boundary, holding exactly the two parts (either order), each base64, the key a P-256 PKCS#8.
ca::Result<KeygenReply> ParseKeygenReply(const HttpResponse& response, std::string_view step,
                                         ca::Rng rng);

}  // namespace devsim
