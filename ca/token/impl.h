// impl.h — Token::Impl, shared by the Token and every CaKey it made: the loaded module, the URI,
// the PIN, the application's one login and the counters. Private to ca/token/.
#pragma once

#include <p11-kit/pkcs11.h>

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/secret.h"
#include "ca/token/module.h"
#include "ca/token/token.h"

namespace ca::token {

// Owns a PKCS#11 session handle: C_CloseSession (result ignored) in the destructor or reset().
class Session {
 public:
  Session() = default;
  Session(CK_FUNCTION_LIST* fl, CK_SESSION_HANDLE handle) : fl_(fl), handle_(handle) {}
  ~Session() { reset(); }
  Session(Session&& other) noexcept
      : fl_(std::exchange(other.fl_, nullptr)), handle_(std::exchange(other.handle_, 0)) {}
  Session& operator=(Session&& other) noexcept {
    if (this != &other) {
      reset();
      fl_ = std::exchange(other.fl_, nullptr);
      handle_ = std::exchange(other.handle_, 0);
    }
    return *this;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  CK_SESSION_HANDLE get() const { return handle_; }
  explicit operator bool() const { return fl_ != nullptr; }
  void reset() {
    if (fl_ != nullptr) fl_->C_CloseSession(handle_);
    fl_ = nullptr;
    handle_ = 0;
  }

 private:
  CK_FUNCTION_LIST* fl_ = nullptr;
  CK_SESSION_HANDLE handle_ = 0;
};

class Token::Impl {
 public:
  Impl(std::unique_ptr<Module> module, Pkcs11Uri uri, base::Secret pin)
      : module_(std::move(module)), uri_(std::move(uri)), pin_(std::move(pin)) {}
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

  // The objects of class cls labelled/identified as the URI says (at most two looked for).
  Result<std::vector<CK_OBJECT_HANDLE>> FindObjects(const Session& session, CK_OBJECT_CLASS cls);

  void CountSession();
  void CountSignature();
  Stats stats() const;

 private:
  Result<void> LoginIfNeeded(const Session& session);
  std::string Describe(const CK_TOKEN_INFO& info) const;

  std::unique_ptr<Module> module_;
  Pkcs11Uri uri_;
  base::Secret pin_;
  std::mutex login_mutex_;  // one C_Login at a time
  mutable std::mutex stats_mutex_;
  Stats stats_;
  Session keeper_;
};

// SEQUENCE { INTEGER r, INTEGER s } from a token's raw P-256 signature r||s.
base::Bytes EcdsaSignatureDer(std::span<const unsigned char, 64> raw);
// A DER SubjectPublicKeyInfo from CKA_EC_POINT (a DER OCTET STRING around the uncompressed point,
// or the bare point); kUnsupportedKey if it is not a point on P-256.
Result<base::Bytes> SpkiFromEcPoint(base::Bytes point);

// The CaKey over the URI's key pair (token_key.cc). kInvalidArgument if the key or its public half
// is not in the token or is not EC P-256.
Result<std::unique_ptr<CaKey>> OpenTokenKey(std::shared_ptr<Token::Impl> impl);

}  // namespace ca::token
