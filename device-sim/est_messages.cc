// est_messages.cc — EST request texts and certs-only response decoding.
#include "device-sim/est_messages.h"

#include "ca/encoding.h"
#include "ca/pkcs7.h"

namespace devsim {
namespace {

constexpr size_t kMaxFirstLine = 200;

std::string EstPath(const EstTarget& target, std::string_view operation) {
  std::string path = "/.well-known/est";
  if (!target.label.empty()) path += "/" + target.label;
  return path + "/" + std::string(operation);
}

}  // namespace

const char* OperationName(EstOperation op) {
  switch (op) {
    case EstOperation::kEnroll: return "enroll";
    case EstOperation::kReenroll: return "reenroll";
    case EstOperation::kServerKeygen: return "serverkeygen";
  }
  return "enroll";
}

std::string CacertsRequest(const EstTarget& target) {
  return "GET " + EstPath(target, "cacerts") + " HTTP/1.1\r\nHost: " + target.host_header +
         "\r\nAccept: application/pkcs7-mime\r\nConnection: keep-alive\r\n\r\n";
}

std::string EnrollRequest(const EstTarget& target, EstOperation op,
                          std::span<const unsigned char> csr_der) {
  const std::string body = ca::Base64Encode(csr_der, true);
  const char* operation = op == EstOperation::kEnroll     ? "simpleenroll"
                          : op == EstOperation::kReenroll ? "simplereenroll"
                                                          : "serverkeygen";
  return "POST " + EstPath(target, operation) + " HTTP/1.1\r\nHost: " + target.host_header +
         "\r\nAccept: application/pkcs7-mime\r\nContent-Type: application/pkcs10\r\n"
         "Content-Transfer-Encoding: base64\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

std::string FirstLine(std::string_view body) {
  std::string line(body.substr(0, body.find_first_of("\r\n")));
  if (line.size() > kMaxFirstLine) line.resize(kMaxFirstLine);
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return line;
}

ca::Result<std::vector<base::Bytes>> CertsFromResponse(const HttpResponse& response,
                                                       std::string_view step) {
  auto der = ca::Base64Decode(response.body, kMaxResponseBodyBytes);
  if (!der) {
    return ca::Fail(ca::Code::kMalformed,
                    std::string(step) + ": bad response: base64: " + der.error().detail);
  }
  auto certs = ca::ParseCertsOnlyPkcs7(*der);
  if (!certs) {
    return ca::Fail(ca::Code::kMalformed,
                    std::string(step) + ": bad response: pkcs7: " + certs.error().detail);
  }
  if (certs->empty()) {
    return ca::Fail(ca::Code::kMalformed, std::string(step) + ": bad response: no certificates");
  }
  return certs;
}

}  // namespace devsim
