// systemd.cc — sd_notify, socket activation and the watchdog interval via libsystemd (see
// systemd.h).
#include "daemon/systemd.h"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>

#include "daemon/net.h"

namespace provisiond::sd {

bool Notify(std::string_view state) {
  std::string text(state);
  return sd_notify(0, text.c_str()) > 0;
}

std::optional<std::chrono::microseconds> WatchdogInterval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec);
}

base::Result<std::vector<ListenFd>> TakeListenFds() {
  char** names = nullptr;
  int n = sd_listen_fds_with_names(1, &names);
  if (n < 0) return base::Fail(base::Code::kIo, std::string("sd_listen_fds: ") + std::strerror(-n));
  std::vector<ListenFd> fds;
  for (int i = 0; i < n; ++i) {
    std::string name = names && names[i] ? names[i] : "";
    // sd_listen_fds_with_names says "unknown" when LISTEN_FDNAMES is unset.
    if (name == "unknown") name.clear();
    fds.push_back({base::UniqueFd(SD_LISTEN_FDS_START + i), name});
  }
  if (names) {
    for (int i = 0; i < n; ++i) std::free(names[i]);
    std::free(names);
  }
  for (const auto& f : fds) {
    if (auto r = AdoptListeningSocket(f.fd.get()); !r) return std::unexpected(r.error());
  }
  return fds;
}

}  // namespace provisiond::sd
