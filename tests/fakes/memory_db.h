#pragma once
// MemoryDb: a migrated `:memory:` database behind a DbWorker, for tests that need the worker's
// thread and commit rule without a file. barrier() returns once every job submitted before it
// ran and its Done and deferred work were called (the worker runs jobs in order).

#include <catch2/catch.hpp>
#include <memory>

#include "core/clock.h"
#include "storage/db_worker.h"
#include "storage/sqlite.h"

namespace esm::testing {

class MemoryDb {
 public:
  explicit MemoryDb(const Clock& clock) {
    auto c = storage::Connection::open(":memory:", storage::Durability::kNormal);
    REQUIRE(c);
    REQUIRE(storage::migrate(**c).is_ok());
    worker = std::make_unique<storage::DbWorker>(std::move(c).value(), clock);
  }
  ~MemoryDb() { worker->stop(); }

  void start(storage::DbWorker::Tick tick = nullptr) { worker->start(std::move(tick)); }
  void barrier() {
    REQUIRE(worker->run_sync([](storage::Connection&) { return Status::ok(); }).is_ok());
  }

  std::unique_ptr<storage::DbWorker> worker;
};

}  // namespace esm::testing
