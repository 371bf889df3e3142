// ca_key_source.h — where the daemon's CA key lives: ca.key in the state dir, or the PKCS#11
// token named by the URI recorded in ca.key.uri. Hands one CaKey to each thread that signs.
#pragma once

#include <memory>
#include <string>

#include "base/error.h"
#include "ca/ca_key.h"
#include "ca/rng.h"
#include "ca/token/token.h"
#include "ca/token/token_set.h"
#include "daemon/config.h"

namespace provisiond {

class CaKeySource {
 public:
  // The state dir's key: ca.key.uri (or options.uri) names a token, which is opened and logged in
  // (the PIN read from pin-source, whose owner and mode are checked first); else ca.key.
  // kInvalidArgument with one line for both present, neither, a bad URI, a pin-value not
  // allowed, a PIN file others can read, a module, token or key that cannot be used, a wrong PIN;
  // kIo for a file that cannot be read. A token is taken from tokens when its module is open there
  // already (another CA generation's key: one C_Initialize, one login per process), else opened
  // and added; null: a set of the source's own.
  static base::Result<std::unique_ptr<CaKeySource>> Open(
      const StatePaths& paths, const CaKeyOptions& options, ca::Rng rng,
      std::shared_ptr<ca::token::TokenSet> tokens = nullptr);
  // The token the URI names, for init: opened and logged in the same way, the key not required.
  static base::Result<std::unique_ptr<CaKeySource>> OpenToken(
      const CaKeyOptions& options, std::shared_ptr<ca::token::TokenSet> tokens = nullptr);
  ~CaKeySource();

  // A CaKey for the calling thread (file: a parse of its own; token: a session of its own).
  base::Result<std::unique_ptr<ca::CaKey>> NewKey(ca::Rng rng);

  // The token, or null for a file key (for init, rollover, health probes and metrics).
  ca::token::Token* token() const { return token_.get(); }
  const std::shared_ptr<ca::token::Token>& shared_token() const { return token_; }
  // The key pair in the token (the URI's object= and id=); empty for a file key.
  const ca::token::KeyName& key_name() const { return key_name_; }
  // The modules this source's token came from, to open another generation's key beside it.
  const std::shared_ptr<ca::token::TokenSet>& tokens() const { return tokens_; }
  // The URI as recorded in ca.key.uri (no PIN); empty for a file key.
  const std::string& uri() const { return uri_; }
  // "file /var/lib/provisiond/ca.key" or "pkcs11 pkcs11:token=...;object=..." (no PIN).
  const std::string& description() const { return description_; }

 private:
  CaKeySource() = default;
  std::string key_pem_;  // file key only
  std::shared_ptr<ca::token::TokenSet> tokens_;
  std::shared_ptr<ca::token::Token> token_;
  ca::token::KeyName key_name_;
  std::string uri_;
  std::string description_;
};

// A --ca-key-uri / ca.key.uri value: parsed (RFC 7512) and refused (one line) when it carries
// pin-value without allow_pin_value, or names no PIN at all.
base::Result<ca::token::Pkcs11Uri> ParseKeyUri(const std::string& text, bool allow_pin_value);

}  // namespace provisiond
