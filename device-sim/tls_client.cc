// tls_client.cc — non-blocking mbedTLS client: setup, the socket bio, and failure texts.
#include "device-sim/tls_client.h"

#include <mbedtls/net_sockets.h>
#include <mbedtls/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ca/encoding.h"

namespace devsim {
namespace {

mbedtls_ssl_protocol_version ToMbedtls(TlsVersion version) {
  return version == TlsVersion::k12 ? MBEDTLS_SSL_VERSION_TLS1_2 : MBEDTLS_SSL_VERSION_TLS1_3;
}

// A server that rejects the client certificate sends its alert and closes; our next send then
// fails (EPIPE/ECONNRESET) with the alert still unread in the socket. A handshake alert is a
// plaintext record (type 21, length 2: level, description); peek for one without consuming it.
int PeekPlaintextAlert(int fd) {
  unsigned char record[7];
  const ssize_t n = recv(fd, record, sizeof record, MSG_PEEK | MSG_DONTWAIT);
  if (n != static_cast<ssize_t>(sizeof record)) return 0;
  const bool alert = record[0] == MBEDTLS_SSL_MSG_ALERT && record[1] == 3 && record[3] == 0 &&
                     record[4] == 2 && record[5] == MBEDTLS_SSL_ALERT_LEVEL_FATAL;
  return alert ? record[6] : 0;
}

}  // namespace

base::Result<std::unique_ptr<TlsClient>> TlsClient::Start(const ServerAddress& server,
                                                          const TlsSettings& settings,
                                                          mbedtls_x509_crt* trust,
                                                          ClientIdentity identity, ca::Rng rng,
                                                          ServerCertCache* cache) {
  std::unique_ptr<TlsClient> client(new TlsClient());
  client->server_text_ = server.text;
  client->server_name_ = settings.server_name;
  client->trust_ = trust;
  client->cache_ = cache;
  if (auto ok = client->Setup(settings, identity, rng); !ok) {
    return std::unexpected(ok.error());
  }
  auto fd = StartConnect(server);
  if (!fd) return std::unexpected(fd.error());
  client->fd_ = std::move(*fd);
  return client;
}

base::Result<void> TlsClient::Setup(const TlsSettings& settings, ClientIdentity identity,
                                    ca::Rng rng) {
  auto failed = [](const char* what, int ret) {
    return base::Fail(base::Code::kInternal,
                      std::string("tls: setup: ") + what + ": " + MbedtlsText(ret));
  };
  mbedtls_ssl_config* conf = conf_.get();
  int ret = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0) return failed("config", ret);
  mbedtls_ssl_conf_min_tls_version(conf, ToMbedtls(settings.version));
  mbedtls_ssl_conf_max_tls_version(conf, ToMbedtls(settings.version));
  mbedtls_ssl_conf_groups(conf, GroupList(settings.key_share));
  // With a cache, CheckServerCertificate verifies (or recognises) the certificate right after
  // the handshake, before any request is sent.
  mbedtls_ssl_conf_authmode(
      conf, cache_ != nullptr ? MBEDTLS_SSL_VERIFY_NONE : MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(conf, trust_, nullptr);
  mbedtls_ssl_conf_rng(conf, rng.fill, rng.state);
  // One exchange per connection: nothing to resume, so do not keep tickets.
  mbedtls_ssl_conf_session_tickets(conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
  if (identity.cert != nullptr &&
      (ret = mbedtls_ssl_conf_own_cert(conf, identity.cert, identity.key)) != 0) {
    return failed("own certificate", ret);
  }
  if ((ret = mbedtls_ssl_setup(ssl_.get(), conf)) != 0) return failed("ssl", ret);
  if ((ret = mbedtls_ssl_set_hostname(ssl_.get(), settings.server_name.c_str())) != 0) {
    return failed("server name", ret);
  }
  mbedtls_ssl_set_bio(ssl_.get(), this, Send, Recv, nullptr);
  return {};
}

int TlsClient::Send(void* self, const unsigned char* buf, size_t len) {
  auto* client = static_cast<TlsClient*>(self);
  while (true) {
    const ssize_t n = send(client->fd_.get(), buf, len, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_WRITE;
    client->sys_errno_ = errno;
    return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
                                                 : MBEDTLS_ERR_NET_SEND_FAILED;
  }
}

int TlsClient::Recv(void* self, unsigned char* buf, size_t len) {
  auto* client = static_cast<TlsClient*>(self);
  while (true) {
    const ssize_t n = recv(client->fd_.get(), buf, len, 0);
    if (n >= 0) return static_cast<int>(n);  // 0: EOF, which mbedTLS reports as CONN_EOF
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
    client->sys_errno_ = errno;
    return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
  }
}

Io TlsClient::FinishConnect() {
  if (connected_) return Io::kDone;
  const int error = ConnectProgress(fd_.get());
  if (error == EINPROGRESS) return Io::kWantWrite;
  if (error != 0) {
    error_ = "connect " + server_text_ + ": " + std::strerror(error);
    return Io::kFailed;
  }
  connected_ = true;
  return Io::kDone;
}

Io TlsClient::Map(int ret) {
  switch (ret) {
    case MBEDTLS_ERR_SSL_WANT_READ:
      return Io::kWantRead;
    case MBEDTLS_ERR_SSL_WANT_WRITE:
      return Io::kWantWrite;
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: {
      // mbedTLS has no accessor for the alert it received; it is still in the record buffer.
      const unsigned char* msg = ssl_->MBEDTLS_PRIVATE(in_msg);
      alert_ = msg != nullptr ? msg[1] : 0;
      error_ = "fatal alert " + std::to_string(alert_) + " " + AlertName(alert_);
      return Io::kFailed;
    }
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
      error_ = "server certificate: " + VerifyFlagsText(mbedtls_ssl_get_verify_result(ssl_.get()));
      return Io::kFailed;
    case MBEDTLS_ERR_SSL_CONN_EOF:
      error_ = "connection closed by the server";
      return Io::kFailed;
    case MBEDTLS_ERR_NET_CONN_RESET:
    case MBEDTLS_ERR_NET_SEND_FAILED:
      if ((alert_ = PeekPlaintextAlert(fd_.get())) != 0) {
        error_ = "fatal alert " + std::to_string(alert_) + " " + AlertName(alert_);
        return Io::kFailed;
      }
      [[fallthrough]];
    default:
      error_ = MbedtlsText(ret);
      if (sys_errno_ != 0) error_ += std::string(" (") + std::strerror(sys_errno_) + ")";
      return Io::kFailed;
  }
}

std::optional<std::string> TlsClient::ChannelBinding() {
  if (mbedtls_ssl_get_version_number(ssl_.get()) != MBEDTLS_SSL_VERSION_TLS1_3) return std::nullopt;
  static constexpr char kLabel[] = "EXPORTER-Channel-Binding";
  unsigned char out[32];
  if (mbedtls_ssl_export_keying_material(ssl_.get(), out, sizeof out, kLabel, sizeof kLabel - 1,
                                         nullptr, 0, 0) != 0) {
    return std::nullopt;
  }
  return ca::Base64Encode(out, false);
}

Io TlsClient::Handshake() {
  while (true) {
    const int ret = mbedtls_ssl_handshake(ssl_.get());
    if (ret == 0) return cache_ != nullptr ? CheckServerCertificate() : Io::kDone;
    if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) continue;
    return Map(ret);
  }
}

Io TlsClient::CheckServerCertificate() {
  const mbedtls_x509_crt* peer = mbedtls_ssl_get_peer_cert(ssl_.get());
  if (peer == nullptr) {
    error_ = "server certificate: none received";
    return Io::kFailed;
  }
  const auto now = std::chrono::steady_clock::now();
  const std::span<const unsigned char> der(peer->raw.p, peer->raw.len);
  if (now - cache_->verified_at < kServerCertCacheAge &&
      std::ranges::equal(der, cache_->leaf_der)) {
    return Io::kDone;
  }
  uint32_t flags = 0;
  // mbedtls_x509_crt_verify takes a non-const chain but only reads it (the leaf and whatever
  // intermediates the server sent).
  if (mbedtls_x509_crt_verify(const_cast<mbedtls_x509_crt*>(peer), trust_, nullptr,
                              server_name_.c_str(), &flags, nullptr, nullptr) != 0) {
    mbedtls_ssl_send_alert_message(ssl_.get(), MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                   MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
    error_ = "server certificate: " + VerifyFlagsText(flags);
    return Io::kFailed;
  }
  cache_->leaf_der.assign(der.begin(), der.end());
  cache_->verified_at = now;
  return Io::kDone;
}

IoResult TlsClient::Write(std::string_view data) {
  while (true) {
    const int ret = mbedtls_ssl_write(
        ssl_.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size());
    if (ret >= 0) return {Io::kDone, static_cast<size_t>(ret)};
    if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) continue;
    return {Map(ret), 0};
  }
}

IoResult TlsClient::Read(std::span<char> buf) {
  while (true) {
    const int ret =
        mbedtls_ssl_read(ssl_.get(), reinterpret_cast<unsigned char*>(buf.data()), buf.size());
    if (ret >= 0) return {Io::kDone, static_cast<size_t>(ret)};
    if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
      return {Io::kDone, 0};
    }
    if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) continue;
    return {Map(ret), 0};
  }
}

void TlsClient::CloseNotify() { (void)mbedtls_ssl_close_notify(ssl_.get()); }

}  // namespace devsim
