// ca_generations.h — the CA generations as the daemon uses them (#19 part 3): where each
// generation's files are in the state dir, and the set serve loads from the store (which
// generation issues, which are trusted for re-enrollment, what /cacerts answers, the links the
// server sends after its certificate). The states are db/ca_generation_records.h's.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/types.h"
#include "db/ca_generation_records.h"
#include "daemon/ca_key_source.h"
#include "daemon/config.h"
#include "daemon/tls/server_tls.h"
#include "db/store.h"

namespace provisiond {

// Generation 1's files are the state dir's own (ca.crt, ca.key or ca.key.uri); generation N >= 2
// keeps ca.crt, ca.key (0600) or ca.key.uri, newwithold.crt and oldwithnew.crt in <dir>/ca-genN.
std::string GenerationDir(const std::string& state_dir, int64_t gen);

// What serve takes from the store's generations. Without any row (no rollover yet): generation 1
// alone, from ca.crt, active.
struct CaSet {
  int64_t active_gen = 1;
  base::Bytes active_cert;                // DER; issues every new certificate
  std::vector<int64_t> trusted_gens;      // active and previous: re-enrollment accepts these
  std::vector<base::Bytes> trusted_certs; // their DER, in the same order
  // /cacerts: the active CA, then for a pending or previous generation next to it the newer CA
  // and both links (RFC 7030 §4.1.3: NewWithOld, OldWithNew).
  std::vector<base::Bytes> cacerts;
  // The newest generation /cacerts carries (what a fetch is recorded under).
  int64_t newest_gen = 1;
  // The generation the last activation replaced, while it is still trusted (0: none). A pending
  // intent reserved under it is signed by its key (daemon/authority/issuance.cc, Resume).
  int64_t previous_gen = 0;
  base::Bytes previous_cert;
  // Whose server certificate serve presents: the oldest generation still trusted (previous, else
  // active), since a device may hold only that root; generation 1's is server.crt, generation N's
  // <dir>/ca-genN/server.crt (made by `ca rollover`).
  int64_t server_gen = 1;
  // Every generation's OldWithNew with its generation, oldest first: those of generations newer
  // than the server certificate's are sent after it, so a device that trusts only a newer root
  // reaches the key that signed it (the links are self-issued, so the roots' pathLenConstraint 0
  // holds).
  std::vector<std::pair<int64_t, base::Bytes>> server_links;
  bool operator==(const CaSet&) const = default;
};

// The set from `generations` (Store::ListCaGenerations), or generation 1 alone from ca_cert_pem
// when it is empty. kInvalidArgument when the store names no active generation.
base::Result<CaSet> BuildCaSet(const std::vector<db::CaGeneration>& generations,
                               const std::string& ca_cert_pem);

// Reads the store's generations and builds the set (kIo naming the store's error).
base::Result<CaSet> LoadCaSet(db::Store& store, const std::string& ca_cert_pem);

// Serve's material for the set: ca_cert_pem becomes the active CA (it issues), reenroll_ca_pem the
// other generations still trusted for re-enrollment; for server_gen >= 2 the server certificate is
// read from that generation's directory, and the links of later generations are appended to the
// server certificate's chain. Returns the generation whose server certificate is presented:
// server_gen, or 1 (server.crt, with every link after it) when that generation's directory has
// none (a rollover made before `ca rollover` issued one); kIo if it cannot be read.
base::Result<int64_t> ApplyCaSet(const CaSet& set, const std::string& state_dir,
                                 tls::Material& material);

// Generation gen's key: ca.key or ca.key.uri in GenerationDir, as CaKeySource::Open reads them.
// options' URI (--ca-key-uri) names generation 1's key only; later ones use the URI they recorded.
// A token key comes from tokens when its module is open there (a generation's key beside the
// others in one token: one C_Initialize per process); null: a set of its own. The one way serve,
// the CRL and `ca rollover` open a generation's key, file or token. rng is the caller's, as
// CaKeySource::Open takes it (not kept). Errors name the generation.
base::Result<std::unique_ptr<CaKeySource>> OpenGenerationKey(
    const std::string& state_dir, int64_t gen, const CaKeyOptions& options, ca::Rng rng,
    std::shared_ptr<ca::token::TokenSet> tokens);

}  // namespace provisiond
