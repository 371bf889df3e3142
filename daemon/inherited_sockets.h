// inherited_sockets.h — serve's listening sockets passed by systemd (socket activation): which
// one serves EST, /metrics and /crl, by their FileDescriptorName.
#pragma once

#include "base/error.h"
#include "base/unique_fd.h"

namespace provisiond {

// Sockets from systemd: the one named "metrics" (FileDescriptorName=metrics) serves /metrics,
// the one named "crl" serves /crl, exactly one other serves EST. Empty where none was passed.
struct InheritedSockets {
  base::UniqueFd est;
  base::UniqueFd metrics;
  base::UniqueFd crl;
};

// Takes every socket systemd passed (none: all three empty). kInvalidArgument, one line, for two
// sockets with the same role.
base::Result<InheritedSockets> TakeInheritedSockets();

}  // namespace provisiond
