// csrattrs.h — the CSR Attributes (RFC 7030 §4.5.2, RFC 8951 §3.4) provisiond announces:
// an EC key on P-256 and ecdsa-with-SHA256 signatures.
#pragma once

#include "ca/types.h"

namespace ca {

// DER of CsrAttrs ::= SEQUENCE { SEQUENCE { id-ecPublicKey, SET { secp256r1 } },
//                                ecdsa-with-SHA256 }.
Bytes CsrAttrsP256();

}  // namespace ca
