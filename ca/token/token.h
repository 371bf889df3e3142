// token.h — the CA key in a PKCS#11 token: the module loaded once, one login for the
// application, one session per signing thread, reopened when the token closes it underneath.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/secret.h"
#include "base/types.h"
#include "ca/ca_key.h"
#include "ca/error.h"

namespace ca::token {

// The RFC 7512 attributes provisiond understands; any other is refused by ParseUri.
struct Pkcs11Uri {
  // Path attributes (percent-decoded). At least one token attribute, and object or id.
  std::string token, manufacturer, model, serial;
  std::string object;     // CKA_LABEL of the key pair
  base::Bytes id;         // CKA_ID of the key pair (may be empty)
  std::optional<unsigned long> slot_id;  // slot-id
  // Query attributes.
  std::string module_path;     // absolute; empty = p11-kit's proxy module
  std::string pin_source;      // absolute file path ("file:" prefix removed); may be empty
  std::optional<std::string> pin_value;  // only when the URI carries pin-value
};

// Parses an RFC 7512 PKCS#11 URI. kInvalidArgument naming the first problem: not "pkcs11:", an
// unknown or repeated attribute, a bad percent escape, no token attribute, neither object nor id,
// type other than "private", a relative module-path, a pin-source that is not an absolute path
// (optionally "file:"), module-name (unsupported: give module-path), or both pin-source and
// pin-value.
Result<Pkcs11Uri> ParseUri(std::string_view text);

// The URI as text, attributes in a fixed order, percent-encoded where RFC 7512 requires; never
// with pin-value.
std::string FormatUri(const Pkcs11Uri& uri);

// The module path the URI loads: module_path, or p11-kit's proxy module when it is empty.
std::string ModulePath(const Pkcs11Uri& uri);

// One key pair in a token: its CKA_LABEL and CKA_ID; an empty one is not matched on. A Token hands
// out keys by name, so every CA generation's key in the token shares its module and login.
struct KeyName {
  std::string label;
  base::Bytes id;
  bool operator==(const KeyName&) const = default;
};
// The key the URI names (object=, id=).
KeyName KeyNameOf(const Pkcs11Uri& uri);

class Token {
 public:
  // Loads the module (dlopen), C_Initialize with OS locking, finds the one token the URI names and
  // logs in once with pin (the PIN is kept, in its Secret, to log in again after the token loses
  // the login). kInvalidArgument: the module cannot be loaded or is not a PKCS#11 module, no or
  // several matching tokens, a wrong PIN (CKR_PIN_INCORRECT, CKR_PIN_LOCKED...). kUnavailable:
  // the token is present but failing. The detail names the module path, the call and the CKR_
  // name; never the PIN.
  static Result<std::shared_ptr<Token>> Open(const Pkcs11Uri& uri, base::Secret pin);
  // C_Finalize and dlclose once this Token and every CaKey from OpenKey are gone.
  ~Token();

  // Whether the key's private half exists in the token (any object labelled/identified so).
  Result<bool> HasKey(const KeyName& key);
  Result<bool> HasKey() { return HasKey(KeyNameOf(uri())); }
  // Generates an EC P-256 key pair in the token labelled key.label with CKA_ID key.id: private
  // key CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, not CKA_EXTRACTABLE, CKA_SIGN only (no decrypt,
  // derive, unwrap); public key CKA_TOKEN, CKA_VERIFY. kInvalidArgument if the key exists.
  Result<void> GenerateKey(const KeyName& key);
  Result<void> GenerateKey() { return GenerateKey(KeyNameOf(uri())); }
  // Destroys every private and public key object named key (C_DestroyObject): undoes a
  // GenerateKey whose key is not to be kept. Success when none is left (also when there was
  // none); kUnavailable or kInvalidArgument naming the call that failed.
  Result<void> DestroyKey(const KeyName& key);
  // A CaKey over the key pair named key, for one thread, with its own session; it reopens the
  // session (and logs in again if the token lost the login) when the token closed it, retrying the
  // signature once. A failed operation closes its session, so none is left with an operation under
  // way. kInvalidArgument if the key is not in the token; otherwise errors as Open. The CaKey keeps
  // the module loaded (it shares the Token's state), so it may outlive the Token.
  Result<std::unique_ptr<CaKey>> OpenKey(const KeyName& key);
  Result<std::unique_ptr<CaKey>> OpenKey() { return OpenKey(KeyNameOf(uri())); }

  // The URI the token was opened with (never with pin-value): its token attributes find the token.
  const Pkcs11Uri& uri() const;

  struct Stats {
    uint64_t logins = 0;            // C_Login calls that succeeded
    uint64_t sessions_opened = 0;   // C_OpenSession calls that succeeded
    uint64_t signatures = 0;        // C_Sign calls that succeeded
    std::map<std::string, uint64_t> errors;  // failed PKCS#11 calls by CKR_ name
  };
  Stats stats() const;  // thread-safe

  class Impl;

 private:
  explicit Token(std::unique_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace ca::token
