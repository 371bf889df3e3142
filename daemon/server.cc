// server.cc — the listener, and the worker threads that each run a per-core event loop
// (daemon/worker.h); reload and drain fan out to them (see server.h).
#include "daemon/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <vector>

#include "ca/encoding.h"
#include "ca/issuer.h"
#include "daemon/est/service.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/net.h"
#include "daemon/post_queue.h"
#include "daemon/worker.h"

namespace provisiond {
namespace {

base::Result<base::UniqueFd> Listen(const std::string& listen, std::string* bound) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return base::Fail(base::Code::kInvalidArgument, "--listen wants ADDR:PORT, got " + listen);
  }
  std::string host = listen.substr(0, colon), port = listen.substr(colon + 1);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return base::Fail(base::Code::kInvalidArgument, "--listen " + listen + ": " + gai_strerror(rc));
  }
  base::UniqueFd fd(::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int one = 1;
  if (fd) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (!fd || ::bind(fd.get(), res->ai_addr, res->ai_addrlen) != 0 ||
      ::listen(fd.get(), 4096) != 0) {
    std::string err = std::strerror(errno);
    freeaddrinfo(res);
    return base::Fail(base::Code::kIo, "listen on " + listen + ": " + err);
  }
  freeaddrinfo(res);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
  *bound = FormatAddress(ss);
  return fd;
}

// A worker's issuer for the previous generation (ca_set.previous_gen), or null when none is
// trusted or no key was given.
base::Result<std::unique_ptr<ca::Issuer>> PreviousIssuer(const CaSet& set, CaKeySource* key,
                                                         ca::Rng rng) {
  if (set.previous_gen == 0 || key == nullptr) return std::unique_ptr<ca::Issuer>();
  auto made = key->NewKey(rng);
  if (!made) return std::unexpected(made.error());
  auto issuer = ca::Issuer::Load(ca::DerToPem(set.previous_cert, "CERTIFICATE"), std::move(*made));
  if (!issuer) return std::unexpected(ca::ToBaseError(issuer.error()));
  return std::move(*issuer);
}

}  // namespace

Server::Server(std::shared_ptr<const ServeConfig> config, std::unique_ptr<db::Writer> writer)
    : configs_{config},
      config_(*configs_.front()),
      writer_(std::move(writer)),
      current_config_(&config_),
      enroll_shared_{&config_, *writer_, TimeSource::System(),
                     RateLimiter(config_.policy.device_rate),
                     RateLimiter(config_.policy.address_rate)} {}

Server::~Server() {
  // Finish queued writes while the workers (and their inboxes) still exist; what the writer posts
  // now is never run, since the worker threads have stopped.
  writer_.reset();
}

base::Result<std::unique_ptr<Server>> Server::Create(
    std::shared_ptr<const ServeConfig> shared_config, const tls::Material& material,
    CaKeySource& ca_key, ServeStore& store, const CaSet& ca_set, base::UniqueFd listen_fd,
    CaKeySource* previous_key) {
  auto writer = store.StartWriter(shared_config->limits.max_pending_writes, /*max_batch=*/256,
                                  std::chrono::milliseconds(shared_config->limits.commit_delay_ms));
  if (!writer) return base::Fail(base::Code::kIo, "database (writer): " + writer.error().detail);
  std::unique_ptr<Server> server(new Server(std::move(shared_config), std::move(*writer)));
  const ServeConfig& config = server->config_;
  if (listen_fd) {
    server->listen_fd_ = std::move(listen_fd);
    server->address_ = LocalAddress(server->listen_fd_.get());
  } else {
    auto fd = Listen(config.listen, &server->address_);
    if (!fd) return std::unexpected(fd.error());
    server->listen_fd_ = std::move(*fd);
  }
  int workers =
      config.workers > 0 ? config.workers : static_cast<int>(std::thread::hardware_concurrency());
  workers = std::clamp(workers, 1, kMaxWorkers);  // the CLI refuses more; a huge box gets 256
  for (int i = 0; i < workers; ++i) {
    auto tls = tls::ServerTls::Create(material, config.tls_min_minor, config.client_auth);
    if (!tls) return std::unexpected(ca::ToBaseError(tls.error()));
    auto key = ca_key.NewKey((*tls)->rng());  // one per worker: a file key's EC tables, a session
    if (!key) return std::unexpected(key.error());
    auto issuer = ca::Issuer::Load(material.ca_cert_pem, std::move(*key));
    if (!issuer) return std::unexpected(ca::ToBaseError(issuer.error()));
    auto previous = PreviousIssuer(ca_set, previous_key, (*tls)->rng());
    if (!previous) return std::unexpected(previous.error());
    auto reader = store.OpenReader();
    if (!reader) return base::Fail(base::Code::kIo, "database (reader): " + reader.error().detail);
    auto inbox = PostQueue::Create();
    if (!inbox) return std::unexpected(inbox.error());
    auto service =
        std::make_unique<est::Service>(server->current_config_, server->enroll_shared_,
                                       std::move(*issuer), (*tls)->rng(), **inbox, **reader);
    service->SetCa(nullptr, ca_set.active_gen, ca_set.cacerts, ca_set.newest_gen,
                   std::move(*previous), ca_set.previous_gen);
    auto worker =
        Worker::Create(config, *server->writer_, std::move(*reader), server->listen_fd_.get(),
                       server->table_, std::shared_ptr<tls::ServerTls>(std::move(*tls)),
                       std::move(*inbox), std::move(service));
    if (!worker) return std::unexpected(worker.error());
    server->workers_.push_back(std::move(*worker));
  }
  std::vector<Worker*> peers;
  for (auto& w : server->workers_) peers.push_back(w.get());
  for (size_t i = 0; i < peers.size(); ++i) server->workers_[i]->SetPeers(peers, i);
  SetCertificateExpiry(GlobalMetrics(), material.ca_cert_pem, material.server_cert_pem);
  GlobalMetrics().db_queue_limit.Set(static_cast<int64_t>(config.limits.max_pending_writes));
  return server;
}

void Server::Run() {
  for (size_t i = 0; i < workers_.size(); ++i) {
    threads_.emplace_back([this, i] {
      std::string name = "worker-" + std::to_string(i);  // top -H, ps -L (at most 15 characters)
      pthread_setname_np(pthread_self(), name.c_str());
      workers_[i]->Run();
    });
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Server::Stop() {
  for (auto& w : workers_) w->Stop();
}

void Server::Drain(std::chrono::milliseconds deadline) {
  auto at = Clock::now() + deadline;
  for (auto& w : workers_) w->Stop(at);
}

uint64_t Server::heartbeat() const {
  uint64_t least = UINT64_MAX;
  for (const auto& w : workers_) least = std::min(least, w->turns());
  return least;
}

base::Result<void> Server::Reload(std::shared_ptr<const ServeConfig> config,
                                  const tls::Material& material, const CaSet* ca_set,
                                  CaKeySource* ca_key, CaKeySource* previous_key) {
  // Build everything first: a context or issuer that fails leaves every worker as it was.
  std::vector<std::shared_ptr<tls::ServerTls>> contexts;
  using Issuers = std::pair<std::unique_ptr<ca::Issuer>, std::unique_ptr<ca::Issuer>>;
  std::vector<std::shared_ptr<Issuers>> issuers;  // active, previous
  for (size_t i = 0; i < workers_.size(); ++i) {
    auto tls = tls::ServerTls::Create(material, config->tls_min_minor, config_.client_auth);
    if (!tls) return std::unexpected(ca::ToBaseError(tls.error()));
    if (ca_set != nullptr && ca_key != nullptr) {
      auto key = ca_key->NewKey((*tls)->rng());
      if (!key) return std::unexpected(key.error());
      auto issuer = ca::Issuer::Load(material.ca_cert_pem, std::move(*key));
      if (!issuer) return std::unexpected(ca::ToBaseError(issuer.error()));
      auto previous = PreviousIssuer(*ca_set, previous_key, (*tls)->rng());
      if (!previous) return std::unexpected(previous.error());
      issuers.push_back(std::make_shared<Issuers>(std::move(*issuer), std::move(*previous)));
    }
    contexts.push_back(std::move(*tls));
  }
  for (size_t i = 0; i < issuers.size(); ++i) {
    workers_[i]->UpdateService([issuer = issuers[i], set = *ca_set](est::Service& service) {
      service.SetCa(std::move(issuer->first), set.active_gen, set.cacerts, set.newest_gen,
                    std::move(issuer->second), set.previous_gen);
    });
  }
  SetCertificateExpiry(GlobalMetrics(), material.ca_cert_pem, material.server_cert_pem);
  configs_.push_back(config);
  current_config_.store(config.get(), std::memory_order_release);
  enroll_shared_.current_config.store(config.get(), std::memory_order_release);
  struct Pending {
    std::mutex mu;
    std::condition_variable cv;
    size_t left;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = workers_.size();
  for (size_t i = 0; i < workers_.size(); ++i) {
    workers_[i]->Swap(std::move(contexts[i]), config.get(), [pending] {
      std::lock_guard lock(pending->mu);
      if (--pending->left == 0) pending->cv.notify_all();
    });
  }
  std::unique_lock lock(pending->mu);
  if (!pending->cv.wait_for(lock, std::chrono::seconds(5), [&] { return pending->left == 0; })) {
    Log(Priority::kWarning, "reload_slow",
        {{"workers_not_switched", std::to_string(pending->left)}});
  }
  return {};
}

}  // namespace provisiond
