// rollover.h — how a device follows a CA rollover (RFC 7030 §4.1.3): from a /cacerts answer it
// learns a new root only through a NewWithOld link that verifies under a root it already trusts,
// then keeps both roots (so it verifies the server and either generation's certificates).
#pragma once

#include <mbedtls/x509_crt.h>

#include <string>
#include <vector>

#include "base/types.h"
#include "ca/error.h"

namespace devsim {

// The self-signed roots in `cacerts` that `trust` does not hold, each vouched for by a link in
// `cacerts` (same subject and public key as the root, not self-signed) that mbedtls_x509_crt_verify
// accepts under `trust` at the current time. A root without such a link is ignored: a server
// cannot hand a device a root of its choosing.
std::vector<base::Bytes> RootsLearnedFromCacerts(const std::vector<base::Bytes>& cacerts,
                                                 mbedtls_x509_crt* trust);

// --follow-rollover FILE: appends each root RootsLearnedFromCacerts finds to `trust` (the worker's
// chain, in memory) and, as PEM, to FILE (where the fleet keeps its trust anchors; thread-safe).
// The number of roots learned, or kInvalidArgument naming FILE when it cannot be written.
ca::Result<int> FollowRollover(const std::vector<base::Bytes>& cacerts, mbedtls_x509_crt* trust,
                               const std::string& file);

}  // namespace devsim
