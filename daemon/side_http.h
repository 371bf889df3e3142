// side_http.h — a small plain-HTTP/1.1 side listener (the metrics and CRL listeners use it): one
// thread, up to kMaxClients clients at once in one poll loop, a kMaxRequestBytes request head, a
// deadline per client, "Connection: close" after every answer. A slow client holds only its own
// slot until its deadline; when all slots are taken a new connection is closed at once. A head
// longer than kMaxRequestBytes is answered 431, then closed with the lingering close (linger.h:
// what the client still sends is discarded, bounded in bytes and time, so it reads the 431 rather
// than a reset). It never touches TLS keys or the database itself: it calls the answer function
// it was given.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "base/error.h"
#include "base/unique_fd.h"

namespace provisiond {

// The whole HTTP response for one complete request head. Called on the listener's thread.
using SideAnswer = std::function<std::string(std::string_view head)>;

struct SideRequest {
  std::string_view method;
  std::string_view path;  // the target without its query
};

// The request line of head, or nullopt if it is not "METHOD TARGET HTTP/1.x".
std::optional<SideRequest> ParseSideRequest(std::string_view head);

// The value of the first header `name` (ASCII case-insensitive) in head, trimmed; nullopt if
// absent.
std::optional<std::string_view> SideHeader(std::string_view head, std::string_view name);

// "HTTP/1.1 <status> <reason>" with Content-Type (unless empty), Content-Length (of body, even for
// HEAD; none for a 304), the
// extra header lines (each ending "\r\n"), Connection: close, then body unless head_only.
std::string SideResponse(int status, std::string_view reason, std::string_view content_type,
                         std::string_view body, bool head_only, std::string_view extra_headers);

class SideHttp {
 public:
  static constexpr size_t kMaxRequestBytes = 2048;
  static constexpr size_t kMaxClients = 32;
  // Takes ownership of listen_fd (a listening TCP socket) and starts the serving thread, named
  // thread_name (at most 15 characters). A client must send its head and read the whole answer
  // within deadline. kIo if the thread's wake-up descriptor cannot be made.
  static base::Result<std::unique_ptr<SideHttp>> Start(base::UniqueFd listen_fd, SideAnswer answer,
                                                       std::string thread_name,
                                                       std::chrono::milliseconds deadline);
  // Stops the thread and closes every socket.
  ~SideHttp();
  SideHttp(const SideHttp&) = delete;
  SideHttp& operator=(const SideHttp&) = delete;

  const std::string& address() const { return address_; }

 private:
  struct Client;
  SideHttp(base::UniqueFd listen_fd, base::UniqueFd stop_fd, SideAnswer answer);
  void Run();
  void Accept(std::vector<Client>& clients);
  bool Step(Client& c);  // false: the client is done (answered, gone or cut)

  base::UniqueFd listen_fd_;
  base::UniqueFd stop_fd_;
  SideAnswer answer_;
  std::string address_;
  std::string thread_name_;
  std::chrono::milliseconds deadline_{2000};
  std::thread thread_;
};

}  // namespace provisiond
