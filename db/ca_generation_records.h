// ca_generation_records.h — the values of CA rollover (#19 part 3): one CA generation as the
// store keeps it, the outcome of a state change, and the per-generation counts `ca status` shows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace db {

// A CA generation's life (a row of ca_generations; every change is one conditional UPDATE and a
// state event in the audit chain):
//
//   rollover ──► pending ──activate──► active ──(the next activate)──► previous ──retire──► retired
//
// At most one generation is active, one pending and one previous (partial UNIQUE indexes: the
// database refuses a second, whichever connection or replica tries). The active one issues; the
// active and the previous one are trusted for re-enrollment; a retired one is trusted no more.
// A rollover is refused while a generation is pending or previous.
struct CaGeneration {
  int64_t gen = 0;           // 1, 2, ...: generation 1 is the CA `init` made
  std::string state;         // "pending" | "active" | "previous" | "retired"
  std::string cert_sha256;   // lowercase hex SHA-256 of cert_der
  std::vector<unsigned char> cert_der;
  // RFC 7030 §4.1.3 links to the generation before (empty for generation 1): the new key under
  // the old one's signature, and the old key under the new one's.
  std::vector<unsigned char> new_with_old_der;
  std::vector<unsigned char> old_with_new_der;
  // Where the key is, for the operator: "ca.key", "ca-gen2/ca.key" (relative to the state dir),
  // or a PKCS#11 URI without PIN.
  std::string key_location;
  std::string created_at;                   // ISO 8601 UTC
  std::optional<std::string> activated_at;  // set when it became active
  std::optional<std::string> retired_at;    // set when it was retired
};

enum class CaChange {
  kDone,             // the change was written, with its state event
  kPendingExists,    // rollover: a generation is already pending
  kPreviousExists,   // rollover: a previous generation is not retired yet
  kGenTaken,         // rollover: the generation number is not the next one (another rollover won)
  kNothingPending,   // activate: no generation is pending
  kNothingToRetire,  // retire: no generation is previous (the active one cannot be retired)
};

// One generation's counts for `ca status` (as of `now`): devices with an unrevoked, unexpired
// certificate of this generation, and active devices (any unrevoked, unexpired certificate) that
// fetched /cacerts with an operational certificate while this generation was the newest in it.
struct CaGenerationCounts {
  CaGeneration generation;  // without the DER
  int64_t devices_holding = 0;
  int64_t devices_fetched = 0;
};

struct CaStatusReport {
  int64_t active_devices = 0;  // devices with any unrevoked, unexpired certificate
  std::vector<CaGenerationCounts> generations;  // by generation number
};

}  // namespace db
