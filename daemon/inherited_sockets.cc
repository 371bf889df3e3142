// inherited_sockets.cc — sorting systemd's sockets by name (inherited_sockets.h).
#include "daemon/inherited_sockets.h"

#include <string>

#include "daemon/systemd.h"

namespace provisiond {

base::Result<InheritedSockets> TakeInheritedSockets() {
  auto fds = sd::TakeListenFds();
  if (!fds) return std::unexpected(fds.error());
  InheritedSockets s;
  for (auto& f : *fds) {
    const bool named = f.name == "metrics" || f.name == "crl";
    base::UniqueFd* slot = f.name == "metrics" ? &s.metrics : f.name == "crl" ? &s.crl : &s.est;
    if (*slot) {
      return base::Fail(base::Code::kInvalidArgument,
                        "systemd passed more than one " + (named ? f.name : std::string("EST")) +
                            " socket; want one ListenStream= (plus optionally one named metrics "
                            "and one named crl)");
    }
    *slot = std::move(f.fd);
  }
  return s;
}

}  // namespace provisiond
