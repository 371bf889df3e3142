// ca_key_source.h — where the daemon's CA key lives: ca.key in the state dir, or the PKCS#11
// token named by the URI recorded in ca.key.uri. Hands one CaKey to each thread that signs.
#pragma once

#include <memory>
#include <string>

#include "base/error.h"
#include "ca/ca_key.h"
#include "ca/rng.h"
#include "daemon/config.h"

namespace provisiond {

class CaKeySource {
 public:
  // The state dir's key: ca.key.uri (or options.uri) -> the token, opened and logged in (the PIN
  // read from pin-source, whose owner and mode are checked first); else ca.key. kInvalidArgument
  // with one line for both present, neither present, a bad URI, a pin-value not allowed, a PIN
  // file others can read, a module or token or key that cannot be used, a wrong PIN; kIo for a
  // file that cannot be read.
  static base::Result<std::unique_ptr<CaKeySource>> Open(const StatePaths& paths,
                                                         const CaKeyOptions& options, ca::Rng rng);
  ~CaKeySource();

  // A CaKey for the calling thread (file: a parse of its own; token: a session of its own).
  base::Result<std::unique_ptr<ca::CaKey>> NewKey(ca::Rng rng);

  // "file /var/lib/provisiond/ca.key" or "pkcs11 pkcs11:token=...;object=..." (no PIN).
  const std::string& description() const { return description_; }

 private:
  CaKeySource() = default;
  std::string key_pem_;  // file key only
  std::string description_;
};

}  // namespace provisiond
