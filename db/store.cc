// store.cc — Store: opening the file, and the SQL that records and reads certificates and
// enrollment events. The schema and its migrations are in schema.cc.
#include "db/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "db/schema.h"
#include "db/statement.h"

namespace db {
namespace {

// Creates `path` with mode 0600 unless it exists. true: created now; false: it already existed.
// Creating it ourselves, rather than letting SQLite do it, means the file is never readable by
// others, not even briefly, whatever the umask (SQLite gives -wal and -shm the same mode).
Result<bool> CreateFileIfAbsent(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    return Fail(Code::kIo, "open(" + path + "): " + std::strerror(errno));
  }
  // The umask can only have removed bits; put back exactly owner read/write.
  int chmod_rc = ::fchmod(fd, 0600);
  int chmod_errno = errno;
  ::close(fd);
  if (chmod_rc != 0) {
    return Fail(Code::kIo, "fchmod(" + path + "): " + std::strerror(chmod_errno));
  }
  return true;
}

// The column lists below and the Bind*/Read* functions must stay in the same order.
constexpr const char* kInsertCertificate =
    "INSERT INTO certificates (serial, device_id, subject, san, not_before, not_after, der, "
    "fingerprint_sha256, public_key_sha256, auth_cert_issuer, auth_cert_serial, "
    "auth_cert_fingerprint, kind, peer, issued_at, revoked_at, revocation_reason) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";
#define PROVISIOND_CERT_COLUMNS                                                              \
  "SELECT serial, device_id, subject, san, not_before, not_after, der, fingerprint_sha256, " \
  "public_key_sha256, auth_cert_issuer, auth_cert_serial, auth_cert_fingerprint, kind, "     \
  "peer, issued_at, revoked_at, revocation_reason FROM certificates "
constexpr const char* kSelectBySerial = PROVISIOND_CERT_COLUMNS "WHERE serial = ?1";
constexpr const char* kSelectByDevice = PROVISIOND_CERT_COLUMNS "WHERE device_id = ?1 ORDER BY id";
#undef PROVISIOND_CERT_COLUMNS

constexpr const char* kInsertEvent =
    "INSERT INTO enrollment_events (time, peer, presented_fingerprint, presented_subject, "
    "device_id, endpoint, outcome, http_status, reason, serial) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
// By id, not time: id is the order rows were committed, and the wall clock can step backwards.
constexpr const char* kSelectRecentEvents =
    "SELECT time, peer, presented_fingerprint, presented_subject, device_id, endpoint, outcome, "
    "http_status, reason, serial FROM enrollment_events ORDER BY id DESC LIMIT ?1";

void BindCertificate(Statement& stmt, const CertificateRecord& cert) {
  stmt.BindText(1, cert.serial_hex);
  stmt.BindText(2, cert.device_id);
  stmt.BindText(3, cert.subject);
  stmt.BindText(4, cert.san);
  stmt.BindText(5, cert.not_before);
  stmt.BindText(6, cert.not_after);
  stmt.BindBlob(7, cert.der);
  stmt.BindText(8, cert.fingerprint_sha256);
  stmt.BindText(9, cert.public_key_sha256);
  stmt.BindText(10, cert.auth_cert_issuer);
  stmt.BindText(11, cert.auth_cert_serial);
  stmt.BindText(12, cert.auth_cert_fingerprint);
  stmt.BindText(13, cert.kind);
  stmt.BindText(14, cert.peer);
  stmt.BindText(15, cert.issued_at);
  stmt.BindOptionalText(16, cert.revoked_at);
  std::optional<int64_t> reason;
  if (cert.revocation_reason) reason = *cert.revocation_reason;
  stmt.BindOptionalInt(17, reason);
}

CertificateRecord ReadCertificate(const Statement& stmt) {
  CertificateRecord cert;
  cert.serial_hex = stmt.Text(0);
  cert.device_id = stmt.Text(1);
  cert.subject = stmt.Text(2);
  cert.san = stmt.Text(3);
  cert.not_before = stmt.Text(4);
  cert.not_after = stmt.Text(5);
  cert.der = stmt.Blob(6);
  cert.fingerprint_sha256 = stmt.Text(7);
  cert.public_key_sha256 = stmt.Text(8);
  cert.auth_cert_issuer = stmt.Text(9);
  cert.auth_cert_serial = stmt.Text(10);
  cert.auth_cert_fingerprint = stmt.Text(11);
  cert.kind = stmt.Text(12);
  cert.peer = stmt.Text(13);
  cert.issued_at = stmt.Text(14);
  if (!stmt.IsNull(15)) cert.revoked_at = stmt.Text(15);
  if (!stmt.IsNull(16)) cert.revocation_reason = static_cast<int>(stmt.Int(16));
  return cert;
}

// `serial_hex` is bound separately: for an issuance it is the certificate's own serial.
void BindEvent(Statement& stmt, const EventRecord& event, std::string_view serial_hex) {
  stmt.BindText(1, event.time);
  stmt.BindText(2, event.peer);
  stmt.BindText(3, event.presented_fingerprint);
  stmt.BindText(4, event.presented_subject);
  stmt.BindText(5, event.device_id);
  stmt.BindText(6, event.endpoint);
  stmt.BindText(7, event.outcome);
  stmt.BindInt(8, event.http_status);
  stmt.BindText(9, event.reason);
  stmt.BindTextOrNull(10, serial_hex);  // NULL unless a certificate was issued
}

EventRecord ReadEvent(const Statement& stmt) {
  EventRecord event;
  event.time = stmt.Text(0);
  event.peer = stmt.Text(1);
  event.presented_fingerprint = stmt.Text(2);
  event.presented_subject = stmt.Text(3);
  event.device_id = stmt.Text(4);
  event.endpoint = stmt.Text(5);
  event.outcome = stmt.Text(6);
  event.http_status = static_cast<int>(stmt.Int(7));
  event.reason = stmt.Text(8);
  event.serial_hex = stmt.Text(9);  // NULL reads as ""
  return event;
}

Result<void> InsertEvent(sqlite3* db, const EventRecord& event, std::string_view serial_hex) {
  auto stmt = Statement::Prepare(db, kInsertEvent);
  if (!stmt) return std::unexpected(stmt.error());
  BindEvent(*stmt, event, serial_hex);
  return stmt->Run();
}

Result<void> InsertCertificate(sqlite3* db, const CertificateRecord& cert) {
  auto stmt = Statement::Prepare(db, kInsertCertificate);
  if (!stmt) return std::unexpected(stmt.error());
  BindCertificate(*stmt, cert);
  return stmt->Run();
}

}  // namespace

Store::Store(sqlite3* db) : db_(db) {}

Store::~Store() {
  // Every Statement is finalized before its method returns, so close cannot be left pending.
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  auto created = CreateFileIfAbsent(path);
  if (!created) return std::unexpected(created.error());

  // No SQLITE_OPEN_CREATE: the file exists now, with our mode; if it vanished since, fail.
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE, nullptr);
  ConnectionPtr db(raw);  // SQLite may hand back a handle even on failure; it must be closed
  if (rc != SQLITE_OK) return std::unexpected(SqliteError(db.get(), rc, "sqlite3_open_v2"));
  sqlite3_extended_result_codes(db.get(), 1);

  if (auto ready = PrepareConnection(db.get(), !*created); !ready) {
    return std::unexpected(ready.error());
  }
  return std::unique_ptr<Store>(new Store(db.release()));
}

Result<void> Store::RecordIssuance(const CertificateRecord& cert, const EventRecord& event) {
  std::lock_guard lock(mu_);
  // The event's serial is the certificate's by definition; a different one is a caller bug.
  if (!event.serial_hex.empty() && event.serial_hex != cert.serial_hex) {
    return Fail(Code::kInternal, "RecordIssuance: event serial " + event.serial_hex +
                                     " is not the certificate's " + cert.serial_hex);
  }
  return InWriteTransaction(db_, [&]() -> Result<void> {
    if (auto inserted = InsertCertificate(db_, cert); !inserted) return inserted;
    return InsertEvent(db_, event, cert.serial_hex);
  });
}

Result<void> Store::RecordEvent(const EventRecord& event) {
  std::lock_guard lock(mu_);
  return InsertEvent(db_, event, event.serial_hex);
}

Result<std::optional<CertificateRecord>> Store::FindBySerial(std::string_view serial_hex) {
  std::lock_guard lock(mu_);
  auto stmt = Statement::Prepare(db_, kSelectBySerial);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindText(1, serial_hex);
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<CertificateRecord>();
  return ReadCertificate(*stmt);
}

Result<std::vector<CertificateRecord>> Store::FindByDevice(std::string_view device_id) {
  std::lock_guard lock(mu_);
  auto stmt = Statement::Prepare(db_, kSelectByDevice);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindText(1, device_id);
  std::vector<CertificateRecord> certs;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return certs;
    certs.push_back(ReadCertificate(*stmt));
  }
}

Result<std::vector<EventRecord>> Store::RecentEvents(int limit) {
  std::lock_guard lock(mu_);
  std::vector<EventRecord> events;
  // SQLite reads a negative LIMIT as "no limit"; a caller asking for <= 0 rows gets none.
  if (limit <= 0) return events;
  auto stmt = Statement::Prepare(db_, kSelectRecentEvents);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->BindInt(1, limit);
  for (;;) {
    auto row = stmt->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return events;
    events.push_back(ReadEvent(*stmt));
  }
}

Result<int64_t> Store::CountCertificates() {
  std::lock_guard lock(mu_);
  return QueryInt(db_, "SELECT count(*) FROM certificates");
}

Result<Store::Settings> Store::EffectiveSettings() {
  std::lock_guard lock(mu_);
  Settings settings;
  auto journal_mode = QueryText(db_, "PRAGMA journal_mode");
  if (!journal_mode) return std::unexpected(journal_mode.error());
  settings.journal_mode = *journal_mode;
  struct IntPragma {
    const char* sql;
    int* out;
  };
  const IntPragma int_pragmas[] = {
      {"PRAGMA synchronous", &settings.synchronous},
      {"PRAGMA foreign_keys", &settings.foreign_keys},
      {"PRAGMA busy_timeout", &settings.busy_timeout_ms},
      {"PRAGMA user_version", &settings.user_version},
  };
  for (const IntPragma& pragma : int_pragmas) {
    auto value = QueryInt(db_, pragma.sql);
    if (!value) return std::unexpected(value.error());
    *pragma.out = static_cast<int>(*value);
  }
  return settings;
}

}  // namespace db
