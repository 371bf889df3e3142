// ckr.h — PKCS#11 return values as names, and which of them mean "the session or token is gone,
// reopen and retry" rather than "this request is wrong".
#pragma once

#include <p11-kit/pkcs11.h>

#include <string>

namespace ca::token {

// "CKR_PIN_INCORRECT"; a value without a name as "CKR_0x80000001".
std::string CkrName(CK_RV rv);

// A failure a new session (and login) may cure: the token closed the session, lost the login,
// invalidated the object handles or failed as a device.
bool IsSessionFailure(CK_RV rv);

// A wrong, locked or expired PIN: a configuration error, never retried.
bool IsPinFailure(CK_RV rv);

}  // namespace ca::token
