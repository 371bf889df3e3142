// token_set.h — the PKCS#11 modules one process has open: one Token per module (C_Initialize once,
// one login), shared by every key in it, so each CA generation's key in the token can be opened.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/secret.h"
#include "ca/error.h"
#include "ca/token/token.h"

namespace ca::token {

// Owned by whoever opens keys (the daemon's CaKeySource shares one among every generation's key);
// the Tokens it holds stay open until it and every CaKey made from them are gone. Thread-safe.
class TokenSet {
 public:
  // How to get the PIN, asked only when the module is not open yet.
  using PinSource = std::function<Result<base::Secret>()>;

  // The Token for uri: the one already open from uri's module (ModulePath), or Token::Open(uri,
  // pin()) the first time. kInvalidArgument when the module is open for another token (its token,
  // manufacturer, model, serial or slot-id differ: one module, one token per process), or the
  // PIN cannot be had; otherwise Token::Open's errors. The detail never holds the PIN.
  Result<std::shared_ptr<Token>> Open(const Pkcs11Uri& uri, const PinSource& pin);

  // How many modules are open (for tests).
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Token>> tokens_;  // by module path; guarded by mutex_
};

}  // namespace ca::token
