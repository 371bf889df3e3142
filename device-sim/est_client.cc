// est_client.cc — EST requests and response checks on top of TlsConnection and HttpResponseParser.
#include "device-sim/est_client.h"

#include <array>

#include "ca/encoding.h"
#include "ca/pkcs7.h"
#include "device-sim/http_response.h"

namespace devsim {
namespace {

constexpr size_t kMaxFirstLine = 200;

std::string EstPath(const EstSettings& settings, std::string_view operation) {
  std::string path = "/.well-known/est";
  if (!settings.label.empty()) path += "/" + settings.label;
  return path + "/" + std::string(operation);
}

std::string HostHeader(const TlsSettings& tls) { return tls.server_name + ":" + tls.port; }

std::string GetRequest(const EstSettings& settings) {
  return "GET " + EstPath(settings, "cacerts") + " HTTP/1.1\r\nHost: " + HostHeader(settings.tls) +
         "\r\nAccept: application/pkcs7-mime\r\nConnection: keep-alive\r\n\r\n";
}

std::string PostRequest(const EstSettings& settings, EstOperation op,
                        std::span<const unsigned char> csr_der) {
  const std::string body = ca::Base64Encode(csr_der, true);
  const char* operation = op == EstOperation::kEnroll ? "simpleenroll" : "simplereenroll";
  return "POST " + EstPath(settings, operation) + " HTTP/1.1\r\nHost: " + HostHeader(settings.tls) +
         "\r\nAccept: application/pkcs7-mime\r\nContent-Type: application/pkcs10\r\n"
         "Content-Transfer-Encoding: base64\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

// The first line of an error body, bounded and with control characters masked, since it is
// printed and used as a grouping key.
std::string FirstLine(std::string_view body) {
  std::string line(body.substr(0, body.find_first_of("\r\n")));
  if (line.size() > kMaxFirstLine) line.resize(kMaxFirstLine);
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return line;
}

// Sends one request and reads one response into `parser`. On failure the caller may ask
// parser.started() whether the server answered at all.
ca::Result<HttpResponse> RoundTrip(TlsConnection& conn, std::string_view request,
                                   HttpResponseParser& parser) {
  if (auto sent = conn.Write(request); !sent) return std::unexpected(sent.error());
  std::array<char, 4096> buf;
  while (!parser.complete()) {
    auto n = conn.Read(buf);
    if (!n) return std::unexpected(n.error());
    auto fed = *n == 0 ? parser.FinishAtEof() : parser.Feed(std::string_view(buf.data(), *n));
    if (!fed) return ca::Fail(fed.error().code, "http: " + fed.error().detail);
  }
  return parser.response();
}

// A 200 response whose body is a base64 certs-only PKCS#7 with at least one certificate.
ca::Result<std::vector<ca::Bytes>> CertsFromResponse(const HttpResponse& response,
                                                     std::string_view step) {
  if (response.status != 200) {
    return ca::Fail(ca::Code::kPolicy,
                    "http " + std::to_string(response.status) + ": " + FirstLine(response.body));
  }
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

}  // namespace

const char* OperationName(EstOperation op) {
  return op == EstOperation::kEnroll ? "enroll" : "reenroll";
}

ca::Result<std::unique_ptr<EstClient>> EstClient::Create(EstSettings settings,
                                                         std::string_view ca_bundle_pem) {
  std::unique_ptr<EstClient> client(new EstClient());
  client->settings_ = std::move(settings);
  auto drbg = ca::Drbg::FromSystemEntropy();
  if (!drbg) return std::unexpected(drbg.error());
  client->drbg_ = std::move(*drbg);
  auto trust = ca::ParseCertificates(ca_bundle_pem);
  if (!trust) return std::unexpected(trust.error());
  client->trust_ = std::move(*trust);
  return client;
}

ca::Result<std::unique_ptr<TlsConnection>> EstClient::Connect(mbedtls_x509_crt& client_cert,
                                                              mbedtls_pk_context& client_key) {
  return TlsConnection::Open(settings_.tls, trust_->get(), &client_cert, &client_key, rng());
}

ca::Result<std::vector<ca::Bytes>> EstClient::Enroll(EstOperation op, mbedtls_x509_crt& client_cert,
                                                     mbedtls_pk_context& client_key,
                                                     std::span<const unsigned char> csr_der) {
  auto conn = Connect(client_cert, client_key);
  if (!conn) return std::unexpected(conn.error());
  HttpResponseParser cacerts_parser;
  auto cacerts = RoundTrip(**conn, GetRequest(settings_), cacerts_parser);
  if (!cacerts) return std::unexpected(cacerts.error());
  if (auto certs = CertsFromResponse(*cacerts, "cacerts"); !certs) {
    return std::unexpected(certs.error());
  }

  const bool reused = cacerts->keep_alive;
  if (!reused) {
    (*conn)->Close();
    conn = Connect(client_cert, client_key);
    if (!conn) return std::unexpected(conn.error());
  }
  const std::string post = PostRequest(settings_, op, csr_der);
  auto parser = std::make_unique<HttpResponseParser>();
  auto enrolled = RoundTrip(**conn, post, *parser);
  // A kept-alive connection may be closed by the server at any time (idle timeout); if not a
  // byte of the answer arrived, the request was not processed and one retry on a fresh
  // connection is safe.
  if (!enrolled && reused && !parser->started()) {
    conn = Connect(client_cert, client_key);
    if (!conn) return std::unexpected(conn.error());
    parser = std::make_unique<HttpResponseParser>();
    enrolled = RoundTrip(**conn, post, *parser);
  }
  if (!enrolled) return std::unexpected(enrolled.error());
  (*conn)->Close();
  return CertsFromResponse(*enrolled, OperationName(op));
}

}  // namespace devsim
