// rows.h — the column lists of `certificates` and `enrollment_events` and the code that binds and
// reads them, shared by SqliteStore's source files.
// Private to db/.
#pragma once

#include <sqlite3.h>

#include <string_view>

#include "db/records.h"
#include "db/row_read.h"
#include "db/statement.h"

namespace db {

// Inserts one certificate row; the caller owns the transaction. kDuplicateSerial on a collision.
Result<void> InsertCertificate(Connection& db, const CertificateRecord& cert);

// The event's serial is the certificate's by definition; a different one is a caller bug
// (kInternal, naming `caller`). "" is accepted and means "the certificate's".
Result<void> CheckIssuedEventSerial(const CertificateRecord& cert, const EventRecord& event,
                                    std::string_view caller);

// Inserts the certificate and its chained event naming its serial; the caller owns the
// transaction (Store::Complete writes exactly this).
Result<void> InsertIssuance(Connection& db, const CertificateRecord& cert,
                            const EventRecord& event);

// Steps `stmt` (a PROVISIOND_CERT_SELECT query, parameters bound) to the end, reading every row.
Result<std::vector<CertificateRecord>> ReadAllCertificates(Statement& stmt);

}  // namespace db
