// serve_material.h — what serve reads from the state dir and the trust files at start and on
// every SIGHUP (the TLS material; the CA generations are applied to it by ca_generations.h).
#pragma once

#include "base/error.h"
#include "daemon/config.h"
#include "daemon/tls/server_tls.h"

namespace provisiond {

// Reads the CA and server certificates and keys and every trust file. Each trust file is parsed
// here so a bad one is named now (at start-up, or when a reload is refused), and one holding a
// certificate with the issuing CA's subject or key is refused (see TrustHoldsCaProblem).
base::Result<tls::Material> LoadMaterial(const ServeConfig& config);

}  // namespace provisiond
