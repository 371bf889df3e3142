// credentials.h — a device's certificate and key as the fleet directory holds them (layout.h),
// the checks on a certificate the server issued, and storing it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/types.h"
#include "ca/cert.h"
#include "ca/keys.h"
#include "ca/rng.h"
#include "device-sim/est_messages.h"

namespace devsim {

// A parsed client identity. Not thread-safe (the key caches EC tables): one thread uses it.
struct Credentials {
  std::unique_ptr<ca::CrtChain> cert;
  std::unique_ptr<ca::PrivateKey> key;
};

// kEnroll: DIR/devices/<id>/bootstrap.{crt,key}; kReenroll: operational.{crt,key}.
// kIo "no operational.crt in the device directory" and the like; kMalformed if one does not parse.
base::Result<Credentials> LoadCredentials(const std::string& fleet_dir,
                                          const std::string& device_id, EstOperation op,
                                          ca::Rng rng);

// Finds, among the certificates the server returned, the one for our public key (SPKI DER),
// checks its CN is the device id and that it chains (through the other returned certificates) to
// `trust`. Returns the leaf's DER; kInvalidArgument/kMalformed "issued certificate: ..." otherwise.
base::Result<base::Bytes> CheckIssued(const std::vector<base::Bytes>& certs,
                                      const base::Bytes& our_public_key,
                                      const std::string& device_id, mbedtls_x509_crt* trust);

// Replaces DIR/devices/<id>/operational.key (0600) and then operational.crt (PEM), each
// atomically. kIo on failure.
base::Result<void> StoreOperational(const std::string& fleet_dir, const std::string& device_id,
                                    const ca::PrivateKey& key, const base::Bytes& leaf_der);

}  // namespace devsim
