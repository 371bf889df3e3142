// pg_writer.h — db::PgWriter: starts PgStore's group commit, a db::Writer on a PostgreSQL
// connection of its own (the batch state machine is db::Writer's, writer.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "db/pg_store.h"
#include "db/writer.h"

namespace db {

class PgWriter {
 public:
  // Connects with the store's conninfo (kIo if it cannot) and starts a Writer whose batches lock
  // audit_head, the store's one write lock, for their transaction. The arguments are Writer's.
  // The store must outlive the writer.
  static Result<std::unique_ptr<Writer>> Start(PgStore& store, size_t max_queue = 4096,
                                               size_t max_batch = 256,
                                               std::chrono::microseconds commit_delay = {});
  PgWriter() = delete;
};

}  // namespace db
