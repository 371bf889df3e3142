// relying_party.cc — fetch the CRL named in a certificate and verify against it (see
// relying_party.h).
#include "device-sim/relying_party.h"

#include <mbedtls/x509_crl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>

#include "base/scoped.h"
#include "ca/cdp.h"
#include "ca/cert.h"
#include "device-sim/file_util.h"
#include "device-sim/http_response.h"
#include "device-sim/layout.h"
#include "device-sim/socket_util.h"

namespace devsim {
namespace {

using Crl = base::Scoped<mbedtls_x509_crl, mbedtls_x509_crl_init, mbedtls_x509_crl_free>;
using Clock = std::chrono::steady_clock;
constexpr size_t kMaxPemFile = 1024 * 1024;

struct Url {
  std::string host, port = "80", path = "/";
};

base::Result<Url> ParseHttpUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (!ca::IsValidCrlUrl(url))
    return base::Fail(base::Code::kInvalidArgument, "not an http:// URL: " + url);
  std::string rest = url.substr(kScheme.size());
  Url out;
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) out.path = rest.substr(slash);
  const size_t colon = authority.rfind(':');
  const bool v6 = !authority.empty() && authority.front() == '[';
  if (colon != std::string::npos && (!v6 || authority[colon - 1] == ']')) {
    out.port = authority.substr(colon + 1);
    authority = authority.substr(0, colon);
  }
  if (v6 && authority.size() > 2) authority = authority.substr(1, authority.size() - 2);
  out.host = authority;
  if (out.host.empty()) return base::Fail(base::Code::kInvalidArgument, "no host in " + url);
  return out;
}

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

// Waits for `events` on fd until the deadline; kIo on timeout or error.
base::Result<void> WaitFor(int fd, short events, Clock::time_point deadline,
                           const std::string& url) {
  pollfd p{fd, events, 0};
  int n = ::poll(&p, 1, MillisLeft(deadline));
  if (n == 0) return base::Fail(base::Code::kIo, "fetch " + url + ": deadline");
  if (n < 0 && errno != EINTR)
    return base::Fail(base::Code::kIo, "fetch " + url + ": poll: " + std::strerror(errno));
  return {};
}

}  // namespace

base::Result<std::string> FetchCrl(const std::string& url, double timeout_seconds) {
  auto parts = ParseHttpUrl(url);
  if (!parts) return std::unexpected(parts.error());
  auto server = ResolveServer(parts->host, parts->port);
  if (!server) return std::unexpected(server.error());
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  auto fd = StartConnect(*server);
  if (!fd) return std::unexpected(fd.error());
  while (ConnectProgress(fd->get()) == EINPROGRESS) {
    if (auto w = WaitFor(fd->get(), POLLOUT, deadline, url); !w) return std::unexpected(w.error());
  }
  if (int err = ConnectProgress(fd->get()); err != 0) {
    return base::Fail(base::Code::kIo, "fetch " + url + ": connect: " + std::strerror(err));
  }
  const std::string request = "GET " + parts->path + " HTTP/1.1\r\nHost: " + parts->host +
                              "\r\nAccept: application/pkix-crl\r\nConnection: close\r\n\r\n";
  for (size_t off = 0; off < request.size();) {
    ssize_t n = ::send(fd->get(), request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (auto w = WaitFor(fd->get(), POLLOUT, deadline, url); !w)
        return std::unexpected(w.error());
      continue;
    }
    if (n <= 0)
      return base::Fail(base::Code::kIo, "fetch " + url + ": send: " + std::strerror(errno));
    off += static_cast<size_t>(n);
  }
  HttpResponseParser parser(kMaxResponseHeaderBytes, kMaxCrlResponseBytes);
  char buf[16384];
  while (!parser.complete()) {
    if (auto w = WaitFor(fd->get(), POLLIN, deadline, url); !w) return std::unexpected(w.error());
    ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0)
      return base::Fail(base::Code::kIo, "fetch " + url + ": recv: " + std::strerror(errno));
    auto fed =
        n == 0 ? parser.FinishAtEof() : parser.Feed(std::string_view(buf, static_cast<size_t>(n)));
    if (!fed) return std::unexpected(fed.error());
    if (n == 0 && !parser.complete())
      return base::Fail(base::Code::kMalformed, "fetch " + url + ": truncated");
  }
  if (parser.response().status != 200) {
    return base::Fail(base::Code::kMalformed,
                      "fetch " + url + ": HTTP " + std::to_string(parser.response().status));
  }
  return parser.response().body;
}

namespace {

struct Checker {
  const RelyingPartyOptions& options;
  ca::CrtChain& ca;
  std::map<std::string, std::unique_ptr<Crl>> crls;  // by URL; nullptr: fetch or parse failed
  RelyingPartyReport report;

  mbedtls_x509_crl* CrlFor(const std::string& url) {
    auto [it, fresh] = crls.try_emplace(url);
    if (!fresh) return it->second ? it->second->get() : nullptr;
    auto body = FetchCrl(url, options.timeout_seconds);
    if (!body) {
      report.refused_lines.push_back("crl " + url + ": " + body.error().detail);
      return nullptr;
    }
    auto crl = std::make_unique<Crl>();
    int ret = mbedtls_x509_crl_parse(
        crl->get(), reinterpret_cast<const unsigned char*>(body->data()), body->size());
    if (ret != 0) {
      report.refused_lines.push_back("crl " + url + ": mbedtls_x509_crl_parse -0x" +
                                     std::to_string(-ret));
      return nullptr;
    }
    it->second = std::move(crl);
    return it->second->get();
  }

  void Check(const std::string& id) {
    auto pem = ReadFile(JoinPath(DeviceDir(options.fleet_dir, id), kOperationalCert), kMaxPemFile);
    if (!pem) return;  // not enrolled: nothing to present
    ++report.checked;
    auto crt = ca::ParseCertificates(*pem);
    auto cdp =
        crt ? ca::ReadCrlDistributionPoints(*(*crt)->get()) : ca::Result<ca::CrlDistribution>{};
    auto refuse = [&](int& counter, const std::string& why) {
      ++counter;
      report.refused_lines.push_back(id + " " + why);
    };
    if (!crt || !cdp || cdp->urls.empty())
      return refuse(report.no_crl_url, "no CRL distribution point");
    mbedtls_x509_crl* crl = CrlFor(cdp->urls.front());
    if (crl == nullptr) return refuse(report.fetch_failed, "CRL unavailable (fail closed)");
    uint32_t flags = 0;
    int ret =
        mbedtls_x509_crt_verify((*crt)->get(), ca.get(), crl, nullptr, &flags, nullptr, nullptr);
    if (ret == 0) {
      ++report.accepted;
    } else if (flags & MBEDTLS_X509_BADCERT_REVOKED) {
      refuse(report.revoked, "revoked");
    } else {
      refuse(report.refused_other, "verify flags 0x" + std::to_string(flags));
    }
  }
};

}  // namespace

base::Result<RelyingPartyReport> RunRelyingParty(const RelyingPartyOptions& options) {
  auto ca_pem = ReadFile(options.ca_bundle_path, kMaxPemFile);
  if (!ca_pem) return std::unexpected(ca_pem.error());
  auto ca = ca::ParseCertificates(*ca_pem);
  if (!ca)
    return base::Fail(base::Code::kInvalidArgument,
                      options.ca_bundle_path + ": " + ca.error().detail);
  std::vector<std::string> ids = options.devices;
  if (ids.empty()) {
    std::error_code ec;
    for (std::filesystem::directory_iterator it(DevicesDir(options.fleet_dir), ec), end;
         !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (IsUsableDeviceId(name)) ids.push_back(std::move(name));
    }
    if (ec)
      return base::Fail(base::Code::kIo,
                        "cannot list " + DevicesDir(options.fleet_dir) + ": " + ec.message());
    std::ranges::sort(ids);
  }
  Checker checker{options, **ca, {}, {}};
  for (const auto& id : ids) checker.Check(id);
  return std::move(checker.report);
}

}  // namespace devsim
