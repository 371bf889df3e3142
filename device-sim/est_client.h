// est_client.h — the device side of EST (RFC 7030) over one mutually authenticated TLS connection:
// GET /cacerts, then POST /simpleenroll or /simplereenroll with a PKCS#10 request.
#pragma once

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ca/cert.h"
#include "ca/error.h"
#include "ca/rng.h"
#include "ca/types.h"
#include "device-sim/tls_connection.h"

namespace devsim {

enum class EstOperation { kEnroll, kReenroll };

// "enroll" / "reenroll", as the CLI and the summary name them.
const char* OperationName(EstOperation op);

struct EstSettings {
  TlsSettings tls;
  std::string label;  // optional CA label: /.well-known/est/<label>/...; empty for none
};

// One worker thread's client: its own DRBG and its own parsed copy of the trust bundle, because
// mbedTLS contexts are not thread-safe. Not thread-safe itself.
class EstClient {
 public:
  // kMalformed if the bundle holds no certificate, kCrypto if the DRBG cannot be seeded.
  static ca::Result<std::unique_ptr<EstClient>> Create(EstSettings settings,
                                                       std::string_view ca_bundle_pem);
  EstClient(const EstClient&) = delete;
  EstClient& operator=(const EstClient&) = delete;

  // Authenticating as client_cert/client_key (borrowed for the call): GET cacerts with keep-alive,
  // require 200 and a certs-only PKCS#7 with >= 1 certificate; then, on the same connection unless
  // the server closed it, POST the CSR (base64) to simpleenroll or simplereenroll. Returns the
  // certificates (DER, >= 1) of the 200 response. Failures carry the reason for the summary:
  // "connect ...", "tls: ..." (kIo), "http <status>: <first body line>" (kPolicy), "<step>: bad
  // response: ..." (kMalformed).
  ca::Result<std::vector<ca::Bytes>> Enroll(EstOperation op, mbedtls_x509_crt& client_cert,
                                            mbedtls_pk_context& client_key,
                                            std::span<const unsigned char> csr_der);

  ca::Rng rng() { return drbg_->rng(); }
  // The parsed --ca-bundle, for verifying what the server issued.
  mbedtls_x509_crt* trust() { return trust_->get(); }

 private:
  EstClient() = default;
  ca::Result<std::unique_ptr<TlsConnection>> Connect(mbedtls_x509_crt& client_cert,
                                                     mbedtls_pk_context& client_key);

  EstSettings settings_;
  std::unique_ptr<ca::Drbg> drbg_;
  std::unique_ptr<ca::CrtChain> trust_;
};

}  // namespace devsim
