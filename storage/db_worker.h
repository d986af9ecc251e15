#pragma once
// DbWorker: the one thread that touches the SQLite connection. Everything that reads or writes
// the database is a Job posted here; the worker runs the jobs that queued up together in one
// transaction and commits once (group commit), so a durable fsync is shared by every request
// that arrived meanwhile. Each job's completion runs only after the commit, so nothing is
// acknowledged before it is on disk.
//
// Thread safety: submit() and stop() from any thread. Jobs and their completions run on the
// worker thread; completions should hand off (post) to their own executor quickly.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "storage/sqlite.h"

namespace esm::storage {

class DbWorker {
 public:
  // Called after the commit with its status.
  using Done = std::function<void(const Status& commit)>;
  using Job = std::function<Done(Connection&)>;
  // Runs at the start of every group and on wake-ups, inside the transaction. Returns the
  // epoch-ms time it next wants to run, if any.
  using Tick = std::function<std::optional<std::int64_t>(Connection&, std::int64_t now_ms)>;

  DbWorker(std::unique_ptr<Connection> conn, const Clock& clock);
  ~DbWorker();
  DbWorker(const DbWorker&) = delete;
  DbWorker& operator=(const DbWorker&) = delete;

  void start(Tick tick);
  void submit(Job job);
  // A job whose changes esmd can afford to lose in a power cut (not in a crash): a poller's
  // receive marks and its deletes after a delivered batch, where a loss only means a
  // redelivery, which at-least-once allows. A group made only of such jobs (and the tick) is
  // committed without an fsync; any acknowledged client change in the group makes it durable.
  void submit_relaxed(Job job);
  // Wakes the worker so that the tick runs again now (e.g. a new transition was scheduled).
  void poke();
  // Worker thread only (inside a job or the tick): runs fn after the current group commits.
  // For replies produced as a side effect of another job, e.g. a long poll that a send satisfies.
  void defer(std::function<void()> fn) { deferred_.push_back(std::move(fn)); }
  // Finishes the queued jobs, then joins the thread.
  void stop();

  // For start-up code and tests only: runs fn on the worker and waits for the commit.
  template <typename F>
  auto run_sync(F fn) -> std::invoke_result_t<F, Connection&> {
    using R = std::invoke_result_t<F, Connection&>;
    auto p = std::make_shared<std::promise<R>>();
    auto fut = p->get_future();
    if (!thread_.joinable()) {
      // Not started: run inline (start-up, before the worker thread exists).
      return fn(*conn_);
    }
    submit([fn = std::move(fn), p](Connection& c) mutable -> Done {
      auto r = std::make_shared<R>(fn(c));
      return [p, r](const Status&) { p->set_value(std::move(*r)); };
    });
    return fut.get();
  }

 private:
  void loop();

  std::unique_ptr<Connection> conn_;
  const Clock& clock_;
  Tick tick_;
  std::mutex mu_;
  std::condition_variable cv_;
  struct Entry {
    Job job;
    bool durable;
  };
  std::deque<Entry> queue_;
  bool base_full_ = true;     // worker thread only: the connection was opened with synchronous=FULL
  bool synced_full_ = true;   // worker thread only: the synchronous setting now in force
  std::vector<std::function<void()>> deferred_;  // worker thread only
  bool poked_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace esm::storage
