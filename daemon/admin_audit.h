// admin_audit.h — the audit commands: `audit verify` (the whole chain, or from a signed
// checkpoint on) and `audit checkpoint` (verify, then write a checkpoint signed with the CA key).
#pragma once

#include "daemon/admin.h"

namespace provisiond {

// Exit 0 and one "audit chain ok ..." line, 1 and "audit chain BROKEN ..." (or an error line).
int AuditVerify(const AdminOptions& options, const StoreLocation& store);
// Exit 0 with the checkpoint written (--out, else stdout); 1 and nothing written when the chain
// does not verify or the key cannot sign.
int AuditCheckpoint(const AdminOptions& options, const StoreLocation& store);

}  // namespace provisiond
