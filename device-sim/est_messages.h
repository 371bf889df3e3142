// est_messages.h — the EST (RFC 7030) requests device-sim sends and the checks on the answers:
// GET /cacerts, POST /simpleenroll or /simplereenroll with a base64 PKCS#10. Pure: no sockets.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/types.h"
#include "ca/error.h"
#include "device-sim/http_response.h"

namespace devsim {

// kServerKeygen: /serverkeygen (RFC 7030 §4.4) with the bootstrap identity, as kEnroll; the reply
// carries the key the server made (keygen_reply.h).
enum class EstOperation { kEnroll, kReenroll, kServerKeygen };

// "enroll" / "reenroll" / "serverkeygen", as the CLI and the summary name them.
const char* OperationName(EstOperation op);

struct EstTarget {
  std::string host_header;  // "<server name>:<port>"
  std::string label;        // optional CA label: /.well-known/est/<label>/...; empty for none
};

// GET cacerts with Connection: keep-alive, so the enrollment can follow on the same connection.
std::string CacertsRequest(const EstTarget& target);

// POST simpleenroll/simplereenroll/serverkeygen of base64(csr_der) (RFC 8951 line-wrapped), Connection: close.
std::string EnrollRequest(const EstTarget& target, EstOperation op,
                          std::span<const unsigned char> csr_der);

// The first line of an error body, at most 200 bytes, control characters masked: it is printed and
// used as a grouping key.
std::string FirstLine(std::string_view body);

// The certificates (DER, >= 1) of a 200 response whose body is a base64 certs-only PKCS#7.
// kMalformed "<step>: bad response: ..." otherwise. The caller handles non-200 statuses first.
ca::Result<std::vector<base::Bytes>> CertsFromResponse(const HttpResponse& response,
                                                       std::string_view step);

}  // namespace devsim
