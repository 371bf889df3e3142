// slow_client.cc — ClientHello capture and the slowloris connection (see slow_client.h).
#include "device-sim/slow_client.h"

#include <mbedtls/ssl.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "base/scoped.h"

namespace devsim {
namespace {

constexpr Clock::duration kReopenDelay = std::chrono::seconds(1);

int CaptureSend(void* out, const unsigned char* buf, size_t len) {
  static_cast<std::string*>(out)->append(reinterpret_cast<const char*>(buf), len);
  return static_cast<int>(len);
}

int NothingToRead(void*, unsigned char*, size_t) { return MBEDTLS_ERR_SSL_WANT_READ; }

}  // namespace

base::Result<std::string> CaptureClientHello(const TlsSettings& tls, mbedtls_x509_crt* trust,
                                             ca::Rng rng) {
  std::string captured;
  base::Scoped<mbedtls_ssl_config, mbedtls_ssl_config_init, mbedtls_ssl_config_free> conf;
  base::Scoped<mbedtls_ssl_context, mbedtls_ssl_init, mbedtls_ssl_free> ssl;
  const auto version =
      tls.version == TlsVersion::k12 ? MBEDTLS_SSL_VERSION_TLS1_2 : MBEDTLS_SSL_VERSION_TLS1_3;
  int ret = mbedtls_ssl_config_defaults(conf.get(), MBEDTLS_SSL_IS_CLIENT,
                                        MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret == 0) {
    mbedtls_ssl_conf_min_tls_version(conf.get(), version);
    mbedtls_ssl_conf_max_tls_version(conf.get(), version);
    mbedtls_ssl_conf_groups(conf.get(), GroupList(tls.key_share));
    mbedtls_ssl_conf_ca_chain(conf.get(), trust, nullptr);
    mbedtls_ssl_conf_rng(conf.get(), rng.fill, rng.state);
    ret = mbedtls_ssl_setup(ssl.get(), conf.get());
  }
  if (ret == 0) ret = mbedtls_ssl_set_hostname(ssl.get(), tls.server_name.c_str());
  if (ret == 0) {
    mbedtls_ssl_set_bio(ssl.get(), &captured, CaptureSend, NothingToRead, nullptr);
    ret = mbedtls_ssl_handshake(ssl.get());  // writes the ClientHello, then wants the answer
  }
  if (ret != MBEDTLS_ERR_SSL_WANT_READ || captured.empty()) {
    return base::Fail(base::Code::kInternal, "ClientHello: " + MbedtlsText(ret));
  }
  return captured;
}

SlowConnection::SlowConnection(const SlowEnv& env, SlowMode mode, SlowTally& tally)
    : env_(env), mode_(mode), tally_(tally) {}

int SlowConnection::fd() const {
  if (mode_ == SlowMode::kHello) return raw_.get();
  return tls_ ? tls_->fd() : -1;
}

void SlowConnection::Open(Clock::time_point now) {
  opened_at_ = now;
  next_at_ = now;
  sent_ = 0;
  ++tally_.opened;
  if (mode_ == SlowMode::kHello) {
    auto fd = StartConnect(*env_.server);
    if (!fd) return Closed(now, false, fd.error().detail);
    raw_ = std::move(*fd);
  } else {
    if (env_.identity.cert == nullptr) {
      return Closed(now, false, "no client certificate to complete the handshake with");
    }
    auto conn = TlsClient::Start(*env_.server, *env_.tls, env_.trust, env_.identity, env_.rng,
                                 env_.server_cert_cache);
    if (!conn) return Closed(now, false, conn.error().detail);
    tls_ = std::move(*conn);
  }
  state_ = State::kConnecting;
  if (auto watched = env_.poller->Watch(fd(), this); !watched) {
    return Closed(now, false, watched.error().detail);
  }
  Advance(now);
}

void SlowConnection::OnReady(uint32_t /*events*/) { Advance(Clock::now()); }

void SlowConnection::Advance(Clock::time_point now) {
  if (state_ == State::kConnecting) {
    const int error = mode_ == SlowMode::kHello ? ConnectProgress(raw_.get()) : 0;
    const Io io = mode_ == SlowMode::kHello ? Io::kDone : tls_->FinishConnect();
    if (error == EINPROGRESS || io == Io::kWantWrite) return;
    if (error != 0) return Closed(now, false, std::string("connect: ") + std::strerror(error));
    if (io == Io::kFailed) return Closed(now, false, tls_->error());
    state_ = mode_ == SlowMode::kHello ? State::kTrickling : State::kHandshaking;
  }
  if (state_ == State::kHandshaking) {
    const Io io = tls_->Handshake();
    if (io == Io::kWantRead || io == Io::kWantWrite) return;
    if (io == Io::kFailed) return Closed(now, false, "handshake: " + tls_->error());
    state_ = State::kTrickling;
  }
  if (state_ != State::kTrickling) return;
  if (mode_ == SlowMode::kHello) {
    DrainRaw(now);
  } else {
    DrainTls(now);
  }
  SendByte(now);
}

// A slow client does not listen: whatever arrives is dropped; EOF or reset means closed.
void SlowConnection::DrainRaw(Clock::time_point now) {
  std::array<char, 4096> buf;
  while (true) {
    const ssize_t n = recv(raw_.get(), buf.data(), buf.size(), 0);
    if (n > 0) continue;
    if (n == 0) return Closed(now, true, "closed");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    return Closed(now, true, std::strerror(errno));
  }
}

void SlowConnection::DrainTls(Clock::time_point now) {
  std::array<char, 4096> buf;
  while (true) {
    const IoResult r = tls_->Read(buf);
    if (r.io == Io::kDone && r.bytes > 0) continue;
    if (r.io == Io::kDone) return Closed(now, true, "closed");
    if (r.io == Io::kFailed) return Closed(now, true, tls_->error());
    return;
  }
}

void SlowConnection::SendByte(Clock::time_point now) {
  if (state_ != State::kTrickling || now < next_at_) return;
  next_at_ = now + env_.interval;
  if (mode_ == SlowMode::kHello) {
    if (sent_ >= env_.hello.size()) return;  // all sent; the server is waiting for nothing now
    const ssize_t n = send(raw_.get(), env_.hello.data() + sent_, 1, MSG_NOSIGNAL);
    if (n == 1) {
      ++sent_;
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      Closed(now, true, std::strerror(errno));
    }
    return;
  }
  const char c = sent_ < env_.header.size() ? env_.header[sent_] : 'a';
  const IoResult r = tls_->Write(std::string_view(&c, 1));
  if (r.io == Io::kDone && r.bytes == 1) {
    ++sent_;
  } else if (r.io == Io::kFailed) {
    Closed(now, true, tls_->error());
  }
}

void SlowConnection::OnTimer(Clock::time_point now, bool reopen) {
  if (state_ == State::kClosed) {
    if (reopen && now >= next_at_) Open(now);
    return;
  }
  SendByte(now);
}

void SlowConnection::Closed(Clock::time_point now, bool by_server, const std::string& why) {
  if (by_server) {
    ++tally_.closed_by_server;
    tally_.bytes_sent += sent_;
    tally_.lifetime.Add(std::chrono::duration<double, std::milli>(now - opened_at_).count());
  } else {
    ++tally_.failed;
    ++tally_.failures[why];
  }
  raw_ = base::UniqueFd();
  tls_.reset();
  state_ = State::kClosed;
  next_at_ = now + kReopenDelay;
}

void SlowConnection::Shutdown() {
  if (state_ != State::kClosed) ++tally_.still_open;
  raw_ = base::UniqueFd();
  tls_.reset();
  state_ = State::kClosed;
}

}  // namespace devsim
