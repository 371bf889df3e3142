// store.h — provisiond's SQLite store: the schema, its migrations and every SQL statement.
// Start here for anything persisted: certificates issued and every enrollment attempt.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace db {

enum class Code {
  kBusy,             // locked by another connection beyond busy_timeout (try again later)
  kFull,             // disk or database full
  kIo,               // I/O error, read-only file system, cannot open
  kCorrupt,          // the file is not a database or failed an integrity check
  kDuplicateSerial,  // a certificate with this serial already exists: pick a new serial
  kConstraint,       // any other constraint (or a trigger) refused the write
  kSchema,           // the file's schema version is newer than this program knows
  kInternal,         // SQL or API misuse: a bug
};

struct Error {
  Code code;
  std::string detail;  // names the SQLite call and sqlite3_errmsg
};

template <typename T>
using Result = std::expected<T, Error>;

// One row of `certificates`. Times are UTC ISO 8601 text ("2026-11-27T07:50:28Z").
struct CertificateRecord {
  std::string serial_hex;
  std::string device_id;
  std::string subject;
  std::string san;
  std::string not_before;
  std::string not_after;
  std::vector<unsigned char> der;
  std::string fingerprint_sha256;
  std::string public_key_sha256;
  // The certificate the device authenticated with: its bootstrap certificate for "enroll",
  // its previous operational certificate for "reenroll".
  std::string auth_cert_issuer;
  std::string auth_cert_serial;
  std::string auth_cert_fingerprint;
  std::string kind;  // "enroll" | "reenroll"
  std::string peer;  // "127.0.0.1:53122"
  std::string issued_at;
  std::optional<std::string> revoked_at;
  std::optional<int> revocation_reason;
};

// One row of `enrollment_events`: every attempt, success or not.
struct EventRecord {
  std::string time;
  std::string peer;
  std::string presented_fingerprint;  // "" when no client certificate was presented
  std::string presented_subject;      // "" when none
  std::string device_id;              // "" when not known
  std::string endpoint;               // "simpleenroll", "simplereenroll", "cacerts", "tls", ...
  std::string outcome;                // "issued", "rejected", "error", "handshake_failed", ...
  int http_status = 0;                // 0 when no HTTP response was sent (TLS failures)
  std::string reason;
  std::string serial_hex;             // the issued serial for "issued", else ""
};

inline constexpr int kSchemaVersion = 1;

// Thread-safe: every call takes the store's mutex. All statements bind their parameters.
class Store {
 public:
  // Opens (creating if absent, mode 0600) the database, runs PRAGMA quick_check on an existing
  // file, applies migrations up to kSchemaVersion, and sets journal_mode=WAL, synchronous=FULL,
  // busy_timeout=5000, foreign_keys=ON. kSchema if the file is newer than this program.
  static Result<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Inserts the certificate row and its "issued" event in one transaction. When this returns
  // success the transaction is committed and durable (synchronous=FULL). On any failure nothing
  // was written (the transaction is rolled back). kDuplicateSerial on a serial collision.
  Result<void> RecordIssuance(const CertificateRecord& cert, const EventRecord& event);

  // Inserts one event row (its own transaction).
  Result<void> RecordEvent(const EventRecord& event);

  Result<std::optional<CertificateRecord>> FindBySerial(std::string_view serial_hex);
  Result<std::vector<CertificateRecord>> FindByDevice(std::string_view device_id);
  Result<std::vector<EventRecord>> RecentEvents(int limit);
  Result<int64_t> CountCertificates();

  // What SQLite reports for the settings durability depends on (so tests can assert them).
  struct Settings {
    std::string journal_mode;  // "wal"
    int synchronous = -1;      // 2 = FULL
    int foreign_keys = -1;     // 1
    int busy_timeout_ms = -1;
    int user_version = -1;
  };
  Result<Settings> EffectiveSettings();

 private:
  explicit Store(sqlite3* db);
  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace db
