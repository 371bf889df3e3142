// token_set.cc — TokenSet: one Token per PKCS#11 module in the process (token_set.h).
#include "ca/token/token_set.h"

namespace ca::token {
namespace {

// Whether a and b find the same token (the path attributes that select it).
bool SameToken(const Pkcs11Uri& a, const Pkcs11Uri& b) {
  return a.token == b.token && a.manufacturer == b.manufacturer && a.model == b.model &&
         a.serial == b.serial && a.slot_id == b.slot_id;
}

}  // namespace

Result<std::shared_ptr<Token>> TokenSet::Open(const Pkcs11Uri& uri, const PinSource& pin) {
  const std::string module = ModulePath(uri);
  std::lock_guard lock(mutex_);
  if (auto it = tokens_.find(module); it != tokens_.end()) {
    if (!SameToken(it->second->uri(), uri)) {
      return Fail(Code::kInvalidArgument,
                  module + " is open for the token of " + FormatUri(it->second->uri()) +
                      ": a second token in the same module is not supported (" + FormatUri(uri) +
                      ")");
    }
    return it->second;
  }
  auto secret = pin();
  if (!secret) return std::unexpected(secret.error());
  auto token = Token::Open(uri, std::move(*secret));
  if (!token) return std::unexpected(token.error());
  tokens_.emplace(module, *token);
  return std::move(*token);
}

size_t TokenSet::size() const {
  std::lock_guard lock(mutex_);
  return tokens_.size();
}

}  // namespace ca::token
