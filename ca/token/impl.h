// impl.h — Token::Impl, shared by the Token and every CaKey it made: the loaded module, the URI,
// the PIN, the application's one login and the counters. Private to ca/token/.
#pragma once

#include <p11-kit/pkcs11.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/secret.h"
#include "ca/token/module.h"
#include "ca/token/token.h"

namespace ca::token {

// Owns a PKCS#11 session handle: C_CloseSession (result ignored) in the destructor or reset(),
// unless the module has been initialised again since it was opened (generation changed): the
// handle then means nothing, or another thread's new session. Reset only under Impl::calls().
class Session {
 public:
  Session() = default;
  Session(CK_FUNCTION_LIST* fl, CK_SESSION_HANDLE handle, const std::atomic<uint64_t>* current)
      : fl_(fl), handle_(handle), current_(current), generation_(current->load()) {}
  ~Session() { reset(); }
  Session(Session&& other) noexcept { *this = std::move(other); }
  Session& operator=(Session&& other) noexcept {
    if (this != &other) {
      reset();
      fl_ = std::exchange(other.fl_, nullptr);
      handle_ = std::exchange(other.handle_, 0);
      current_ = other.current_;
      generation_ = other.generation_;
    }
    return *this;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  CK_SESSION_HANDLE get() const { return handle_; }
  explicit operator bool() const { return fl_ != nullptr; }
  // Opened before the module was last initialised again: unusable, and not to be closed.
  bool stale() const { return fl_ != nullptr && current_->load() != generation_; }
  void reset() {
    if (fl_ != nullptr && !stale()) fl_->C_CloseSession(handle_);
    fl_ = nullptr;
    handle_ = 0;
  }

 private:
  CK_FUNCTION_LIST* fl_ = nullptr;
  CK_SESSION_HANDLE handle_ = 0;
  const std::atomic<uint64_t>* current_ = nullptr;
  uint64_t generation_ = 0;
};

class Token::Impl {
 public:
  // The PIN lives in pin only: a pin-value in uri is dropped, not kept in a std::string.
  Impl(std::unique_ptr<Module> module, Pkcs11Uri uri, base::Secret pin)
      : module_(std::move(module)), uri_(std::move(uri)), pin_(std::move(pin)) {
    uri_.pin_value.reset();
  }
  ~Impl() = default;  // keeper_ closes first, then module_: C_Finalize, dlclose

  CK_FUNCTION_LIST* fl() const { return module_->fl(); }
  const Pkcs11Uri& uri() const { return uri_; }

  // "MODULE: CALL: CKR_NAME"; also counts rv among the errors.
  std::string Failed(const char* call, CK_RV rv);
  // The error for a failed call: kInvalidArgument for a PIN failure, else kUnavailable.
  Error FailedError(const char* call, CK_RV rv);

  // The slot whose token matches the URI's token attributes, over the slots with a token present.
  // kInvalidArgument when no token or several match; kUnavailable when the module fails.
  Result<CK_SLOT_ID> FindSlot();
  // A new session on the token (slot found again: slot ids can change), logged in as the user:
  // logs in only if the session shows no user state, one login at a time.
  Result<Session> OpenUserSession(bool read_write);
  // Keeps one session open for the Token's life: PKCS#11 drops the login when the application's
  // last session closes.
  void KeepLogin(Session session) { keeper_ = std::move(session); }

  // The objects of class cls labelled/identified as key says (at most two looked for).
  Result<std::vector<CK_OBJECT_HANDLE>> FindObjects(const Session& session, CK_OBJECT_CLASS cls,
                                                    const KeyName& key);

  // Held shared by every operation on the module, exclusively by Reinitialize: no thread is inside
  // the module while it is finalized and initialised again.
  std::shared_mutex& calls() { return calls_; }
  uint64_t generation() const { return generation_.load(); }
  // When the token has vanished from the module's view (SoftHSM forgets a token whose directory
  // went away and finds it again only in C_Initialize): C_Finalize + C_Initialize, then the login
  // again. Skipped if another thread did it since seen_generation, or less than
  // kReinitializeInterval ago (a token that stays away, or a module that cannot be initialised,
  // must not hold every signing thread on the exclusive lock). The caller holds no lock.
  void Reinitialize(uint64_t seen_generation);
  static constexpr std::chrono::seconds kReinitializeInterval{1};

  void CountSession();
  void CountSignature();
  Stats stats() const;

 private:
  Result<void> LoginIfNeeded(const Session& session);
  std::string Describe(const CK_TOKEN_INFO& info) const;

  std::unique_ptr<Module> module_;
  Pkcs11Uri uri_;
  base::Secret pin_;
  std::shared_mutex calls_;
  std::atomic<uint64_t> generation_{0};  // C_Initialize calls after the first
  std::mutex login_mutex_;               // one C_Login at a time
  // Set when the token refused the PIN: no C_Login is tried again (a real token counts failures
  // and locks the PIN); the PIN file is read at start only, so a restart is the way out.
  std::string pin_refused_;              // guarded by login_mutex_
  std::chrono::steady_clock::time_point last_reinitialize_{};  // guarded by calls_ (exclusive)
  mutable std::mutex stats_mutex_;
  Stats stats_;
  Session keeper_;
};

// SEQUENCE { INTEGER r, INTEGER s } from a token's raw P-256 signature r||s.
base::Bytes EcdsaSignatureDer(std::span<const unsigned char, 64> raw);
// A DER SubjectPublicKeyInfo from CKA_EC_POINT (a DER OCTET STRING around the uncompressed point,
// or the bare point); kUnsupportedKey if it is not a point on P-256.
Result<base::Bytes> SpkiFromEcPoint(base::Bytes point);

// The CaKey over the key pair named key (token_key.cc). kInvalidArgument if the key or its public
// half is not in the token or is not EC P-256.
Result<std::unique_ptr<CaKey>> OpenTokenKey(std::shared_ptr<Token::Impl> impl, KeyName key);

// The URI with key's label and id instead of its own, for messages.
std::string FormatKeyUri(const Pkcs11Uri& uri, const KeyName& key);

}  // namespace ca::token
