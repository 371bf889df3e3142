// server_reissue.h — the TLS server certificate again under a new CA generation (#19 part 3):
// `ca rollover` issues it so serve can present a chain that devices holding only the new root
// verify directly once the old generation is retired (docs/rollover.md).
#pragma once

#include <mbedtls/x509_crt.h>

#include "base/types.h"
#include "ca/ca_key.h"
#include "ca/error.h"
#include "ca/rng.h"

namespace ca {

// A certificate for server's public key, subject, DNS and IP subjectAltNames, serverAuth and
// digitalSignature (the profile init writes), issued by new_ca with new_key: a fresh random serial,
// valid from now - 300 s for as long as server was valid (notAfter - notBefore), but not past
// new_ca's notAfter. Verified under new_ca before it is returned (SignCertificateWith).
// kInvalidArgument for a subject that cannot be written again or a SAN of another type; the key's
// errors as CaKey::SignDigest.
Result<base::Bytes> ReissueServerCert(const mbedtls_x509_crt& server, const mbedtls_x509_crt& new_ca,
                                      CaKey& new_key, base::UnixTime now, Rng rng);

}  // namespace ca
