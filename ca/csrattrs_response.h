// csrattrs_response.h — the body of EST's /csrattrs response: the CSR Attributes (RFC 7030 §4.5.2, RFC 8951 §3.4) provisiond announces:
// an EC key on P-256, ecdsa-with-SHA256 signatures and, on TLS 1.3, challengePassword.
#pragma once

#include "base/types.h"

namespace ca {

// DER of CsrAttrs ::= SEQUENCE { [challengePassword,] SEQUENCE { id-ecPublicKey,
// SET { secp256r1 } }, ecdsa-with-SHA256 }. challengePassword is announced only where provisiond
// can check it: on TLS 1.3 connections, as the RFC 9266 tls-exporter channel binding.
base::Bytes CsrAttrsP256(bool with_challenge_password);

}  // namespace ca
