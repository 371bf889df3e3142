// pg_conn.cc — libpq calls: connecting, PQexecParams with bound values, reading text-format rows,
// and the SQLSTATE -> db::Code mapping every PostgreSQL error goes through.
#include "db/pg_conn.h"

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "db/store_health.h"

namespace db {
namespace {

// SQLSTATE classes and codes (PostgreSQL appendix A) that decide the Code.
Code CodeFor(std::string_view state, std::string_view constraint) {
  if (state == "23505") {
    // The two serial keys: certificates.serial UNIQUE and issuance_intents' primary key.
    if (constraint == "certificates_serial_key" || constraint == "issuance_intents_pkey") {
      return Code::kDuplicateSerial;
    }
    return Code::kConstraint;
  }
  if (state.starts_with("23") || state.starts_with("22")) return Code::kConstraint;
  // serialization failure, deadlock, lock not available, statement timeout / cancel
  if (state == "40001" || state == "40P01" || state == "55P03" || state == "57014") {
    return Code::kBusy;
  }
  if (state.starts_with("53")) return Code::kFull;  // disk full, out of memory, too many conns
  // connection exceptions, read-only transaction (a standby), shutdown, cannot connect now
  if (state.starts_with("08") || state == "25006" || state.starts_with("57P")) return Code::kIo;
  if (state == "XX001" || state == "XX002") return Code::kCorrupt;
  return Code::kInternal;
}

// SQLSTATEs after which the session is dropped and made again: the connection is gone or going
// (class 08, admin shutdown, crash shutdown, cannot connect now) or the server is read-only (a
// standby, or default_transaction_read_only): a new session may reach the new primary.
bool DropsSession(std::string_view state) {
  return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03" ||
         state == "25006";
}

// Bumped by a session dropped for a SQLSTATE of DropsSession: every other session of the process
// is made again before its next statement outside a transaction, so that none keeps reading from
// a server that has become read-only (a demoted primary) while the writer cannot write to it.
std::atomic<uint64_t> g_session_epoch{0};

// Bounds on every wait, and a read-write server only (a standby, or a primary made read-only, is
// refused at connect; with several hosts libpq tries the next), before the conninfo:
// PQconnectdbParams expands `dbname` (the conninfo) after them, so a value the conninfo sets wins
// (e.g. target_session_attrs=any for an admin command's reads on a standby).
constexpr std::pair<const char*, const char*> kConnectDefaults[] = {
    {"target_session_attrs", "read-write"},
    {"connect_timeout", kPgConnectTimeoutSeconds},
    {"keepalives", "1"},
    {"keepalives_idle", "2"},
    {"keepalives_interval", "1"},
    {"keepalives_count", "3"},
    {"tcp_user_timeout", kPgTcpUserTimeoutMs},
};

// Whether the conninfo's `options` set statement_timeout themselves.
bool SetsStatementTimeout(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr) return false;
  bool sets = false;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::strcmp(o->keyword, "options") == 0 && o->val != nullptr) {
      sets = std::strstr(o->val, "statement_timeout") != nullptr;
    }
  }
  PQconninfoFree(options);
  return sets;
}

std::string FirstLine(const char* message) {
  std::string text = message != nullptr ? message : "";
  if (auto end = text.find('\n'); end != std::string::npos) text.resize(end);
  return text;
}

// The statement's first words, to name it in errors (never a value: values are parameters).
std::string Label(std::string_view sql) { return std::string(sql.substr(0, 60)); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Error PgError(PGconn* conn, const PGresult* result, std::string_view sql) {
  if (result == nullptr) {
    return Error{Code::kIo, "PQexecParams(" + Label(sql) + "): " + FirstLine(PQerrorMessage(conn))};
  }
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const char* constraint = PQresultErrorField(result, PG_DIAG_CONSTRAINT_NAME);
  std::string_view state_text = state != nullptr ? state : "";
  // No SQLSTATE: libpq's own failure, i.e. the connection was lost mid-statement.
  Code code = state == nullptr ? Code::kIo : CodeFor(state_text, constraint ? constraint : "");
  return Error{code, "PQexecParams(" + Label(sql) + "): " +
                         FirstLine(PQresultErrorMessage(result)) + " (SQLSTATE " +
                         std::string(state_text.empty() ? "none" : state_text) + ")"};
}

PgParams& PgParams::Text(std::string_view text) {
  values_.emplace_back(std::string(text));
  formats_.push_back(0);
  return *this;
}

PgParams& PgParams::TextOrNull(std::string_view text) {
  if (text.empty()) return OptionalText(std::nullopt);
  return Text(text);
}

PgParams& PgParams::OptionalText(const std::optional<std::string>& text) {
  values_.push_back(text);
  formats_.push_back(0);
  return *this;
}

PgParams& PgParams::Bytes(std::span<const unsigned char> bytes) {
  if (bytes.empty()) {
    values_.emplace_back(std::nullopt);
  } else {
    values_.emplace_back(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
  formats_.push_back(1);
  return *this;
}

PgParams& PgParams::Int(int64_t value) { return Text(std::to_string(value)); }

PgParams& PgParams::OptionalInt(std::optional<int64_t> value) {
  if (!value) return OptionalText(std::nullopt);
  return Int(*value);
}

bool PgRow::IsNull(int column) const { return PQgetisnull(result_, row_, column) != 0; }

std::string PgRow::Text(int column) const {
  if (IsNull(column)) return "";
  return std::string(PQgetvalue(result_, row_, column), PQgetlength(result_, row_, column));
}

std::vector<unsigned char> PgRow::Blob(int column) const {
  std::vector<unsigned char> bytes;
  if (IsNull(column)) return bytes;
  // bytea_output = 'hex' (the default since 9.0, and set per connection in Connect): "\x0a1b..".
  std::string_view text(PQgetvalue(result_, row_, column), PQgetlength(result_, row_, column));
  if (!text.starts_with("\\x")) return bytes;
  text.remove_prefix(2);
  bytes.reserve(text.size() / 2);
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    int hi = HexValue(text[i]);
    int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return {};
    bytes.push_back(static_cast<unsigned char>(hi * 16 + lo));
  }
  return bytes;
}

int64_t PgRow::Int(int column) const {
  if (IsNull(column)) return 0;
  return std::strtoll(PQgetvalue(result_, row_, column), nullptr, 10);
}

Result<PgConnPtr> PgConn::Open(const std::string& conninfo, int statement_timeout_ms) {
  std::vector<const char*> keys, values;
  for (const auto& [key, value] : kConnectDefaults) {
    keys.push_back(key);
    values.push_back(value);
  }
  keys.insert(keys.end(), {"dbname", nullptr});
  values.insert(values.end(), {conninfo.c_str(), nullptr});
  PgConnPtr conn(PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1));
  if (!conn) return base::Fail(Code::kIo, "PQconnectdb: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return base::Fail(Code::kIo, "PQconnectdb: " + FirstLine(PQerrorMessage(conn.get())));
  }
  // Fixed for every session, whatever the server's defaults: UTC, hex bytea, UTF-8 text, a wait
  // for a lock (the store's write lock, audit_head) of at most kPgLockTimeoutMs, then kBusy, as
  // SQLite's busy_timeout, and the statement timeout (see kPgStatementTimeoutMs).
  std::vector<std::string> settings = {"SET TIME ZONE 'UTC'", "SET bytea_output = 'hex'",
                                       "SET client_encoding = 'UTF8'",
                                       "SET lock_timeout = " + std::to_string(kPgLockTimeoutMs)};
  if (!SetsStatementTimeout(conninfo)) {
    settings.push_back("SET statement_timeout = " + std::to_string(statement_timeout_ms));
  }
  for (const std::string& setting : settings) {
    PgResultPtr result(PQexec(conn.get(), setting.c_str()));
    if (!result || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      return std::unexpected(PgError(conn.get(), result.get(), setting));
    }
  }
  return conn;
}

Result<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& conninfo,
                                                int statement_timeout_ms) {
  auto conn = Open(conninfo, statement_timeout_ms);
  if (!conn) {
    GlobalStoreHealth().Failed(conn.error());
    return std::unexpected(conn.error());
  }
  GlobalStoreHealth().Answered();
  std::unique_ptr<PgConn> db(new PgConn(conninfo, statement_timeout_ms, std::move(*conn)));
  db->epoch_ = g_session_epoch.load(std::memory_order_acquire);
  return db;
}

void PgConn::ScheduleNextAttempt() {
  ++failures_;
  // 0 after the first failure (a dropped session is made again at once), then doubling.
  auto delay = std::chrono::milliseconds(0);
  if (failures_ > 1) delay = kPgBackoffFirst * (int64_t{1} << std::min(failures_ - 2, 16));
  next_attempt_ = Clock::now() + std::min(delay, kPgBackoffMax);
}

Result<void> PgConn::Ready(const char* sql) {
  const bool lost = PQstatus(conn_.get()) != CONNECTION_OK;
  if (lost && in_transaction_) {
    return base::Fail(Code::kIo, "PQexecParams(" + Label(sql) +
                                     "): the connection was lost inside a transaction");
  }
  if (epoch_ != g_session_epoch.load(std::memory_order_acquire)) drop_ = true;
  if (!lost && (!drop_ || in_transaction_)) return {};
  const auto now = Clock::now();
  if (now < next_attempt_) {
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_attempt_ - now);
    return base::Fail(Code::kIo, "store unavailable, reconnecting (next attempt in " +
                                     std::to_string(wait.count()) + " ms): " + last_failure_);
  }
  const uint64_t epoch = g_session_epoch.load(std::memory_order_acquire);
  auto session = Open(conninfo_, statement_timeout_ms_);
  if (!session) {
    last_failure_ = session.error().detail;
    ScheduleNextAttempt();
    return std::unexpected(session.error());
  }
  conn_ = std::move(*session);
  drop_ = false;
  epoch_ = epoch;
  GlobalStoreHealth().Reconnected();
  return {};
}

void PgConn::AfterFailure(const PGresult* result) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const bool lost = PQstatus(conn_.get()) != CONNECTION_OK || state == nullptr;
  if (!lost && !DropsSession(state)) return;
  if (!lost) g_session_epoch.fetch_add(1, std::memory_order_acq_rel);
  last_failure_ = !conn_              ? timed_out_
                  : result != nullptr ? FirstLine(PQresultErrorMessage(result))
                                      : FirstLine(PQerrorMessage(conn_.get()));
  drop_ = true;
  ScheduleNextAttempt();
}

Result<PgResultPtr> PgConn::Exec(const char* sql, const PgParams& params) {
  const std::string_view statement(sql);
  if (auto ready = Ready(sql); !ready) {
    GlobalStoreHealth().Failed(ready.error());
    return std::unexpected(ready.error());
  }
  std::vector<const char*> values;
  std::vector<int> lengths;
  values.reserve(params.values_.size());
  for (const auto& value : params.values_) {
    values.push_back(value ? value->data() : nullptr);
    lengths.push_back(value ? static_cast<int>(value->size()) : 0);
  }
  if (statement == "COMMIT" || statement == "ROLLBACK") EndTransaction();
  PgResultPtr result;
  if (PQsendQueryParams(conn_.get(), sql, static_cast<int>(values.size()), nullptr, values.data(),
                        lengths.data(), params.formats_.data(), 0) == 1) {
    result = Await(sql);
  }
  ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error error = !conn_ ? Error{Code::kIo, "PQexecParams(" + Label(sql) + "): " + timed_out_}
                         : PgError(conn_.get(), result.get(), sql);
    AfterFailure(result.get());
    GlobalStoreHealth().Failed(error);
    return std::unexpected(std::move(error));
  }
  failures_ = 0;
  GlobalStoreHealth().Answered();
  if (statement.starts_with("BEGIN")) in_transaction_ = true;
  // COMMIT of a transaction that had already failed answers "ROLLBACK" without an error.
  if (std::strcmp(sql, "COMMIT") == 0 && std::strcmp(PQcmdStatus(result.get()), "COMMIT") != 0) {
    return base::Fail(Code::kInternal, "COMMIT: the transaction had failed and was rolled back");
  }
  return result;
}

Result<PgRows> PgConn::Query(const char* sql, const PgParams& params) {
  auto result = Exec(sql, params);
  if (!result) return std::unexpected(result.error());
  return PgRows(std::move(*result));
}

Result<int64_t> PgConn::Run(const char* sql, const PgParams& params) {
  auto result = Exec(sql, params);
  if (!result) return std::unexpected(result.error());
  const char* affected = PQcmdTuples(result->get());
  return affected[0] == '\0' ? 0 : std::strtoll(affected, nullptr, 10);
}

RowQuery PgConn::Rows() {
  return [this](const char* sql, const RowVisitor& visit) -> Result<void> {
    auto rows = Query(sql);
    if (!rows) return std::unexpected(rows.error());
    for (int i = 0; i < rows->size(); ++i) visit(rows->Row(i));
    return {};
  };
}

// PQexecParams's wait, with a deadline: the server's own statement_timeout plus a margin, so
// that a server which stopped answering (a stopped process, a network that drops packets before
// TCP notices) cannot hold the caller. At the deadline the session is closed (the server rolls
// back an open transaction when it notices) and the result is null: PgError reports kIo.
PgResultPtr PgConn::Await(const char* sql) {
  const bool bounded = statement_timeout_ms_ > 0 && !lifted_;
  const auto deadline = Clock::now() + std::chrono::milliseconds(statement_timeout_ms_) +
                        kPgClientDeadlineMargin;
  PgResultPtr last;
  for (;;) {
    while (PQisBusy(conn_.get()) == 1) {
      int wait_ms = -1;
      if (bounded) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        wait_ms = static_cast<int>(std::max<int64_t>(left.count(), 0));
      }
      pollfd pfd{PQsocket(conn_.get()), POLLIN, 0};
      int ready = poll(&pfd, 1, wait_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) {
        timed_out_ = "no answer from the server within " +
                     std::to_string(statement_timeout_ms_ + kPgClientDeadlineMargin.count()) +
                     " ms (" + Label(sql) + "); connection closed";
        conn_.reset();
        return nullptr;
      }
      if (ready < 0) {
        timed_out_ = std::string("poll: ") + std::strerror(errno) + "; connection closed";
        conn_.reset();
        return nullptr;
      }
      if (PQconsumeInput(conn_.get()) == 0) return nullptr;  // the connection's error
    }
    PGresult* next = PQgetResult(conn_.get());
    if (next == nullptr) return last;
    // As PQexecParams: an error result is kept over what follows it.
    if (!last || PQresultStatus(last.get()) != PGRES_FATAL_ERROR) {
      last.reset(next);
    } else {
      PQclear(next);
    }
  }
}

void PgConn::EndTransaction() {
  in_transaction_ = false;
  lifted_ = false;
}

Result<void> PgConn::LiftStatementTimeout() {
  if (!in_transaction_) return base::Fail(Code::kInternal, "LiftStatementTimeout outside BEGIN");
  if (auto r = Run("SET LOCAL statement_timeout = 0"); !r) return std::unexpected(r.error());
  lifted_ = true;
  return {};
}

void PgConn::RollbackIfOpen() {
  EndTransaction();
  if (!conn_ || PQtransactionStatus(conn_.get()) == PQTRANS_IDLE) return;
  PgResultPtr ignored(
      PQexecParams(conn_.get(), "ROLLBACK", 0, nullptr, nullptr, nullptr, nullptr, 0));
}

Result<void> BeginPgWrite(PgConn& db) {
  if (auto begun = db.Run("BEGIN"); !begun) return std::unexpected(begun.error());
  auto locked = db.Run("SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE");
  if (!locked) return std::unexpected(locked.error());
  if (*locked != 1) return base::Fail(Code::kCorrupt, "audit_head: the row with id 1 is missing");
  return {};
}

}  // namespace db
