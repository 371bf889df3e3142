// init.h — `provisiond init`: creates a state directory with the issuing CA, the server's TLS
// certificate and the database. The CA is a single self-signed P-256 root that issues both the
// device certificates and the server certificate (see docs/architecture.md for why).
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "daemon/config.h"

namespace provisiond {

struct InitOptions {
  std::string state_dir;
  std::vector<std::string> server_names = {"localhost", "127.0.0.1", "::1"};
  std::string ca_name = "provisiond CA";
  int ca_days = 3650;
  int server_days = 825;
  std::string ca_cert_path;  // import an existing CA instead of creating one (with ca_key_path)
  std::string ca_key_path;
  // --ca-key-uri: the CA key in a PKCS#11 token, generated there unless the URI's key exists (or,
  // with ca_cert_path, the imported CA's key already in the token). ca.key.uri records the URI.
  CaKeyOptions ca_key;
};

// Creates DIR (0700), ca.crt, ca.key (0600) or ca.key.uri (a token key), server.crt, server.key
// (0600) and provisiond.db.
// Refuses (kInvalidArgument) if DIR already holds a CA. Returns lines describing what was made.
base::Result<std::vector<std::string>> InitStateDir(const InitOptions& options);

}  // namespace provisiond
