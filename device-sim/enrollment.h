// enrollment.h — one device's whole (re-)enrollment: load its credentials from the fleet
// directory, make a fresh key and CSR, run the EST exchange, check the result, store it.
#pragma once

#include <string>

#include "ca/error.h"
#include "device-sim/est_client.h"

namespace devsim {

// kEnroll authenticates with bootstrap.{crt,key}; kReenroll with operational.{crt,key}. On
// success DIR/devices/<id>/operational.key (0600) and operational.crt (PEM, the issued leaf) are
// replaced atomically. The issued certificate must carry our new public key, have CN=<id> and
// chain to the client's trust bundle. Failure details are short, device-independent reasons
// suitable for grouping ("http 403: ...", "tls: ...", "issued certificate: ...").
ca::Result<void> EnrollDevice(EstClient& client, EstOperation op, const std::string& fleet_dir,
                              const std::string& device_id);

}  // namespace devsim
