// tls_connection.h — one blocking mbedTLS client connection with mutual authentication, and the
// "tls: ..." failure texts the fleet summary groups by.
#pragma once

#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "ca/error.h"
#include "ca/rng.h"
#include "ca/scoped.h"

namespace devsim {

enum class TlsVersion { k12, k13 };

struct TlsSettings {
  std::string host;
  std::string port;
  std::string server_name = "localhost";  // SNI and the name the server certificate must carry
  TlsVersion version = TlsVersion::k13;   // used as both minimum and maximum
  uint32_t read_timeout_ms = 30'000;      // per read, handshake included
};

// A connected, handshaken TLS client. Everything passed to Open is borrowed and must outlive the
// connection (mbedTLS keeps raw pointers). Not thread-safe.
class TlsConnection {
 public:
  // Connects and completes the handshake, verifying the server against `trust` (authmode
  // REQUIRED, hostname settings.server_name) and presenting own_cert/own_key.
  // kIo with a reason: "connect HOST:PORT: ..." or "tls: handshake: ..." (with the alert received,
  // or the certificate verification result, when mbedTLS reports one).
  static ca::Result<std::unique_ptr<TlsConnection>> Open(const TlsSettings& settings,
                                                         mbedtls_x509_crt* trust,
                                                         mbedtls_x509_crt* own_cert,
                                                         mbedtls_pk_context* own_key, ca::Rng rng);
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  // Writes all bytes. kIo "tls: write: ..." on failure.
  ca::Result<void> Write(std::string_view data);
  // Reads up to buf.size() bytes; Ok(0) means the peer closed (close_notify or TCP EOF).
  // kIo "tls: read: ..." on failure, including the read timeout and alerts.
  ca::Result<size_t> Read(std::span<char> buf);
  // Best-effort close_notify; the socket closes on destruction either way.
  void Close();

 private:
  TlsConnection() = default;
  ca::Result<void> Setup(const TlsSettings& settings, mbedtls_x509_crt* trust,
                         mbedtls_x509_crt* own_cert, mbedtls_pk_context* own_key, ca::Rng rng);
  ca::Result<void> Connect(const TlsSettings& settings);
  std::unexpected<ca::Error> TlsFailure(const char* step, int ret) const;

  // Declaration order matters: ssl_ points into conf_ and net_, so it is destroyed first.
  ca::Scoped<mbedtls_ssl_config, mbedtls_ssl_config_init, mbedtls_ssl_config_free> conf_;
  ca::Scoped<mbedtls_net_context, mbedtls_net_init, mbedtls_net_free> net_;
  ca::Scoped<mbedtls_ssl_context, mbedtls_ssl_init, mbedtls_ssl_free> ssl_;
};

// "bad_certificate", "unknown_ca", ... for a TLS alert number; "alert <n>" if unnamed.
std::string AlertName(int alert);

// mbedtls_x509_crt_verify_info for `flags` on one line, items separated by "; ".
std::string VerifyFlagsText(uint32_t flags);

}  // namespace devsim
