// row_view.h — one result row as the backend-neutral code reads it (the audit chain's walk and its
// state cross-check, db/audit.cc and db/audit_state.cc), whichever engine produced it.
// Private to db/.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "db/records.h"

namespace db {

// Columns are 0-based. Text reads NULL as "", Int reads NULL as 0.
class RowView {
 public:
  virtual bool IsNull(int column) const = 0;
  virtual std::string Text(int column) const = 0;
  virtual std::vector<unsigned char> Blob(int column) const = 0;
  virtual int64_t Int(int column) const = 0;

 protected:
  ~RowView() = default;
};

using RowVisitor = std::function<void(const RowView&)>;
// Runs one parameterless query and calls the visitor for each row, in order. The SQL passed is
// our own constant, written so that both SQLite and PostgreSQL run it.
using RowQuery = std::function<Result<void>(const char* sql, const RowVisitor& visit)>;

}  // namespace db
