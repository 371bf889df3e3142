// admin_crl.h — `provisiond crl`: one CA generation's CRL from the store, signed by that
// generation's key (#19 part 3: a CRL per generation, as serve --crl-listen serves them).
#pragma once

#include <cstdint>
#include <string>

#include "daemon/config.h"
#include "daemon/store_open.h"

namespace provisiond {

struct CrlCommandOptions {
  std::string state_dir;
  CaKeyOptions ca_key;  // --ca-key-uri names generation 1's key; later ones use their ca.key.uri
  std::string out;
  bool pem = false;
  int next_update_days = 7;
  int64_t generation = 1;  // --generation: whose certificates, whose key and issuer certificate
};

// Writes generation o.generation's CRL to o.out (atomically: a temp file renamed over it): the
// revoked, unexpired certificates that generation signed (certificates.ca_gen) and every revoked
// pending intent, signed by that generation's key under its ca.crt (GenerationDir). Returns the
// exit status; errors are one line on stderr.
int WriteGenerationCrl(const CrlCommandOptions& o, const StoreLocation& location);

}  // namespace provisiond
