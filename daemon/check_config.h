// check_config.h — `provisiond check-config`: validates the serve settings (config file plus
// command line) and every file they name before a (re)start, the way `nginx -t` does. Checks:
// state-dir and trust set; listen addresses parse; the CA and server certificates and keys are
// readable and parse; each key matches its certificate; ca.key and server.key have no group or
// other access; ca.key is owned by the service user (--service-user, else the current user
// unless that is root); the database file is there; every trust file parses and holds no
// certificate with the issuing CA's subject or key. A CA key in a token (ca.key.uri or
// --ca-key-uri): the PIN file's owner and mode, the module, token and key, the key matches ca.crt,
// and a test signature verifies. After a CA rollover the same for every generation's key that is
// not retired (ca-genN/: the pair and mode 0600, or the token key under ca-genN/ca.crt), problems
// naming the generation; the states are read from the store without opening it for serve (SQLite
// read-only; PostgreSQL on a session of its own), and a store that cannot be read is a problem.
#pragma once

#include <string>
#include <vector>

#include "daemon/config.h"

namespace provisiond {

struct CheckConfigInput {
  ServeConfig config;        // as parsed; settings that failed to parse are reported separately
  std::string service_user;  // "" = the current user, unless root (then ownership is not checked)
};

// One human-readable line per problem ("ca.key: mode 0644, want 0600 (no group/other access)");
// empty if everything checks out. Touches nothing: files are only opened for reading.
std::vector<std::string> CheckServeFiles(const CheckConfigInput& input);

// The problem for a trust file holding a certificate with provisiond's own CA subject or key
// (`what` as ca::FindCaLookalike describes it). check-config reports it and serve refuses to
// start or reload with it: a client chain may end at that copy instead of ca.crt, and the
// operational/bootstrap classification must not depend on which copy mbedTLS picks.
std::string TrustHoldsCaProblem(const std::string& file, const std::string& what);

}  // namespace provisiond
