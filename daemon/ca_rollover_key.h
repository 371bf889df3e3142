// ca_rollover_key.h — the new CA generation's key for `ca rollover`, kept where the current one
// is: a P-256 file key in DIR/ca.key (0600), or a key pair generated inside the current key's
// PKCS#11 token (never on disk) and named in DIR/ca.key.uri. Discarded when the rollover fails.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/error.h"
#include "ca/ca_key.h"
#include "ca/rng.h"
#include "ca/token/token.h"
#include "daemon/ca_key_source.h"

namespace provisiond {

// "ca" -> "ca-gen2", "ca-gen2" -> "ca-gen3" (a trailing -gen<digits> is replaced), "" -> "ca-genN".
std::string GenerationLabel(const std::string& current_label, int64_t gen);

class RolloverKey {
 public:
  // Makes generation gen's key in dir (an empty directory named ca-gen<gen>), beside current:
  // - file: a new P-256 key written to dir/ca.key (O_EXCL, 0600);
  // - token: C_GenerateKeyPair in current's token (same module, session machinery and login),
  //   labelled GenerationLabel(current's label) with a fresh random 16-byte CKA_ID, and
  //   dir/ca.key.uri = current's URI with that label and id (pin-source kept, never a PIN).
  // kInvalidArgument, nothing left behind, when the token already holds a key with that label
  // (an interrupted rollover: the message says how to delete it), current's URI names no
  // pin-source, or the token refuses; kIo when the file cannot be written (the token's objects are
  // destroyed again first, or the message says what is left).
  static base::Result<std::unique_ptr<RolloverKey>> Make(const CaKeySource& current,
                                                         const std::string& dir, int64_t gen,
                                                         ca::Rng rng);

  ca::CaKey& key() { return *key_; }
  // Relative to the state dir, as the store records it: "ca-genN/ca.key" or "ca-genN/ca.key.uri".
  const std::string& location() const { return location_; }
  // "file ca-gen2/ca.key, mode 0600" or "in the token: pkcs11:...;object=ca-gen2;id=..." (no PIN).
  const std::string& description() const { return description_; }

  // Undoes Make in the token (destroys the key pair it generated; the files go with the
  // directory, which the caller removes). "" when nothing is left behind, else one sentence
  // saying what is left in the token and how to remove it. Call once, when the rollover fails.
  std::string Discard();

 private:
  RolloverKey() = default;
  std::shared_ptr<ca::token::Token> token_;  // null for a file key
  std::unique_ptr<ca::CaKey> key_;           // after token_: its session closes first
  ca::token::KeyName name_;
  std::string location_;
  std::string description_;
};

}  // namespace provisiond
