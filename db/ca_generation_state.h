// ca_generation_state.h — a CA generation's state events in the audit chain ("ca_rollover",
// "ca_activated", "ca_retired") and its part of the cross-check of the state tables against the
// chain (audit_state.h). Private to db/.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "db/ca_generation_records.h"
#include "db/records.h"
#include "db/row_view.h"

namespace db {

// With the quoting of audit_state.h:
//   ca_rollover   gen="N" cert_sha256="H" new_with_old_sha256="L1" old_with_new_sha256="L2"
//                 key_location="K" created_at="T"       (the row's insert; L1, L2 "" for gen 1)
//   ca_activated  gen="N" activated_at="T"
//   ca_retired    gen="N" retired_at="T"
// Every field comes from the row itself, so a row edited by hand (a certificate or link swapped,
// a time changed, a state moved back) no longer matches the chain.
EventRecord CaRolloverEvent(const CaGeneration& generation);
EventRecord CaActivatedEvent(int64_t gen, std::string_view activated_at);
EventRecord CaRetiredEvent(int64_t gen, std::string_view retired_at);

// Every generation's events as the chain should record them now, with the row's name for a
// report ("CA generation N"), read whole in the audit check's snapshot. The one state the
// times do not fix, active against previous, is checked here too: the active generation must
// be the non-retired one activated last; otherwise kCorrupt-free report text in *problem.
Result<std::vector<std::pair<EventRecord, std::string>>> CaGenerationState(const RowQuery& query,
                                                                          std::string* problem);

}  // namespace db
