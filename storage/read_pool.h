#pragma once
// ReadPool: read-only SQLite connections for the I/O threads. In WAL mode a reader sees the
// last committed state without waiting for the DbWorker, so a Get answers on the thread that
// parsed it. Every 2xx of a change is sent after its commit, so a read that follows an
// acknowledged change sees it.
//
// Thread safety: with() from any thread; each connection is used by one thread at a time.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/sqlite.h"

namespace esm::storage {

class ReadPool {
 public:
  // Opens n connections to an existing database file (not ":memory:").
  static Result<std::unique_ptr<ReadPool>> open(const std::string& path, int n);

  template <typename F>
  auto with(F fn) -> decltype(fn(std::declval<Connection&>())) {
    Slot& s = acquire();
    std::lock_guard lk(s.mu, std::adopt_lock);
    return fn(*s.conn);
  }

 private:
  ReadPool() = default;
  struct Slot {
    std::mutex mu;
    std::unique_ptr<Connection> conn;
  };
  Slot& acquire();

  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<unsigned> next_{0};
};

}  // namespace esm::storage
