// bad_actors.h — the PKI of the misbehaving scenario classes: a rogue CA made in memory, client
// certificates for real device ids signed by it (or by the real factory CA, but expired), and
// CSRs whose signature is broken.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/types.h"
#include "ca/cert.h"
#include "ca/error.h"
#include "ca/keys.h"
#include "ca/rng.h"
#include "device-sim/factory.h"

namespace devsim {

struct PemIdentity {
  std::string cert_pem;
  std::string key_pem;  // secret: never logged or written
};

// A self-signed P-256 CA "CN=device-sim rogue CA" that no server trusts, valid for a year.
// kCrypto if key generation or signing fails.
ca::Result<PemIdentity> MakeRogueCa(base::UnixTime now, ca::Rng rng);

// A CA certificate and key parsed for one thread (the key caches EC tables: not shareable).
struct SigningCa {
  std::unique_ptr<ca::CrtChain> cert;
  std::unique_ptr<ca::PrivateKey> key;
};

// kMalformed if either does not parse.
ca::Result<SigningCa> ParseSigningCa(const PemIdentity& pem, ca::Rng rng);

// A client certificate for device_id exactly as the factory makes bootstrap certificates of
// `kind` (good or expired), for subject_key, signed by `issuer`; parsed, ready to present.
ca::Result<std::unique_ptr<ca::CrtChain>> MintClientCert(std::string_view device_id,
                                                         BootstrapKind kind,
                                                         const mbedtls_pk_context& subject_key,
                                                         const SigningCa& issuer,
                                                         base::UnixTime now, ca::Rng rng);

// The CSR with the lowest bit of its last byte flipped: that byte ends the ECDSA signature's s
// INTEGER, so the DER still parses but proof of possession fails (the server answers 400).
base::Bytes BreakCsrSignature(base::Bytes csr_der);

}  // namespace devsim
