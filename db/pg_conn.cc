// pg_conn.cc — libpq calls: connecting, PQexecParams with bound values, reading text-format rows,
// and the SQLSTATE -> db::Code mapping every PostgreSQL error goes through.
#include "db/pg_conn.h"

#include <cstdlib>
#include <cstring>

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

Result<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& conninfo) {
  PgConnPtr conn(PQconnectdb(conninfo.c_str()));
  if (!conn) return base::Fail(Code::kIo, "PQconnectdb: out of memory");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return base::Fail(Code::kIo, "PQconnectdb: " + FirstLine(PQerrorMessage(conn.get())));
  }
  std::unique_ptr<PgConn> db(new PgConn(std::move(conn)));
  // Fixed for every connection, whatever the server's defaults: UTC, hex bytea, UTF-8 text, and
  // a wait for a lock (the store's write lock, audit_head) of at most kPgLockTimeoutMs, then kBusy,
  // as SQLite's busy_timeout.
  const std::string lock_timeout = "SET lock_timeout = " + std::to_string(kPgLockTimeoutMs);
  for (const char* setting : {"SET TIME ZONE 'UTC'", "SET bytea_output = 'hex'",
                              "SET client_encoding = 'UTF8'", lock_timeout.c_str()}) {
    if (auto r = db->Run(setting); !r) return std::unexpected(r.error());
  }
  return db;
}

Result<PgResultPtr> PgConn::Exec(const char* sql, const PgParams& params) {
  const std::string_view statement(sql);
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    if (in_transaction_) {
      return base::Fail(Code::kIo, "PQexecParams(" + Label(sql) +
                                       "): the connection was lost inside a transaction");
    }
    PQreset(conn_.get());
  }
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    return base::Fail(Code::kIo, "PQreset: " + FirstLine(PQerrorMessage(conn_.get())));
  }
  std::vector<const char*> values;
  std::vector<int> lengths;
  values.reserve(params.values_.size());
  for (const auto& value : params.values_) {
    values.push_back(value ? value->data() : nullptr);
    lengths.push_back(value ? static_cast<int>(value->size()) : 0);
  }
  if (statement == "COMMIT" || statement == "ROLLBACK") in_transaction_ = false;
  PgResultPtr result(PQexecParams(conn_.get(), sql, static_cast<int>(values.size()), nullptr,
                                  values.data(), lengths.data(), params.formats_.data(), 0));
  ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return std::unexpected(PgError(conn_.get(), result.get(), sql));
  }
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

void PgConn::RollbackIfOpen() {
  in_transaction_ = false;
  if (PQtransactionStatus(conn_.get()) == PQTRANS_IDLE) return;
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
