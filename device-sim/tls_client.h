// tls_client.h — one non-blocking mbedTLS client connection for an event loop: the socket from
// StartConnect, mbedTLS driven through a custom bio that turns EAGAIN into WANT_READ/WANT_WRITE,
// and failure texts that name the fatal alert received, if any. One per connection, with its own
// mbedtls_ssl_config (the client certificate lives in the config); never shared across threads.
#pragma once

#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/scoped.h"
#include "base/types.h"
#include "ca/rng.h"
#include "device-sim/socket_util.h"
#include "device-sim/tls_names.h"

namespace devsim {

struct TlsSettings {
  std::string server_name = "localhost";  // SNI and the name the server certificate must carry
  TlsVersion version = TlsVersion::k13;   // used as both minimum and maximum
  // P-256 by default: with mbedTLS both sides' ECDHE costs less than with X25519
  // (docs/benchmarks.md, "Which key exchange").
  KeyShare key_share = KeyShare::kSecp256r1;
  // Put the connection's RFC 9266 tls-exporter value in the CSR's challengePassword (TLS 1.3).
  bool channel_binding = false;
};

// A client identity to present; cert == nullptr presents none. Borrowed.
struct ClientIdentity {
  mbedtls_x509_crt* cert = nullptr;
  mbedtls_pk_context* key = nullptr;
};

// The server certificate a worker last verified in full. A handshake presenting the very same
// leaf DER skips re-verifying its chain (same bytes, anchors and name give the same answer) until
// the entry is kServerCertCacheAge old. The TLS 1.3 CertificateVerify signature is still checked
// by mbedTLS on every handshake, so the server still proves it holds the key. This saves one
// ECDSA verification per handshake, about a sixth of the client's CPU.
struct ServerCertCache {
  base::Bytes leaf_der;
  std::chrono::steady_clock::time_point verified_at{};
};
inline constexpr std::chrono::seconds kServerCertCacheAge{60};

enum class Io { kDone, kWantRead, kWantWrite, kFailed };

struct IoResult {
  Io io;
  size_t bytes = 0;  // Write: bytes accepted; Read: bytes read (0 with kDone: the peer closed)
};

class TlsClient {
 public:
  // Starts a TCP connect and sets up the TLS client (no TLS byte is sent before Handshake()).
  // The server certificate must chain to `trust` and carry settings.server_name, checked by
  // mbedTLS during the handshake, or, with a cache, by Handshake() right after it (see
  // ServerCertCache). trust, identity, cache and the rng state are borrowed and must outlive
  // the client. kIo "connect HOST:PORT: ..." if the connect fails at once, kInternal
  // "tls: setup: ..." for mbedTLS errors.
  static base::Result<std::unique_ptr<TlsClient>> Start(const ServerAddress& server,
                                                        const TlsSettings& settings,
                                                        mbedtls_x509_crt* trust,
                                                        ClientIdentity identity, ca::Rng rng,
                                                        ServerCertCache* cache = nullptr);
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  int fd() const { return fd_.get(); }

  // Completes the TCP connect once the socket is writable (kWantWrite until then).
  Io FinishConnect();
  Io Handshake();
  // mbedtls_ssl_write: after kWantRead/kWantWrite call again with the same data.
  IoResult Write(std::string_view data);
  // Reads what is there into buf; kDone with 0 bytes when the peer closed (close_notify or EOF).
  IoResult Read(std::span<char> buf);
  // Best-effort close_notify; never waits. The socket closes on destruction.
  void CloseNotify();
  // After the handshake, on TLS 1.3: base64 of the RFC 9266 tls-exporter value (label
  // "EXPORTER-Channel-Binding", empty context, 32 bytes); nullopt otherwise.
  std::optional<std::string> ChannelBinding();

  // After kFailed: the fatal alert the server sent (0 if none) and a one-line reason.
  int alert() const { return alert_; }
  const std::string& error() const { return error_; }

 private:
  TlsClient() = default;
  base::Result<void> Setup(const TlsSettings& settings, ClientIdentity identity, ca::Rng rng);
  Io CheckServerCertificate();
  Io Map(int ret);  // an mbedTLS return code < 0 to Io, recording the failure
  static int Send(void* self, const unsigned char* buf, size_t len);
  static int Recv(void* self, unsigned char* buf, size_t len);

  base::UniqueFd fd_;
  std::string server_text_;
  std::string server_name_;
  mbedtls_x509_crt* trust_ = nullptr;
  ServerCertCache* cache_ = nullptr;
  bool connected_ = false;
  int sys_errno_ = 0;  // errno of the last failed send/recv
  int alert_ = 0;
  std::string error_;
  // Declaration order matters: ssl_ points into conf_, so it is destroyed first.
  base::Scoped<mbedtls_ssl_config, mbedtls_ssl_config_init, mbedtls_ssl_config_free> conf_;
  base::Scoped<mbedtls_ssl_context, mbedtls_ssl_init, mbedtls_ssl_free> ssl_;
};

}  // namespace devsim
