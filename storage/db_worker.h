#pragma once
// DbWorker: the one thread that touches the SQLite connection. Everything that reads or writes
// the database is a Job posted here; the worker runs the jobs that queued up together in one
// transaction and commits once (group commit), so a durable fsync is shared by every request
// that arrived meanwhile.
//
// One rule for commits: nothing leaves a job before its commit succeeded. A job's Done and the
// work it defer()s run after the commit and are told its status; a job must not reply, notify
// a poller or wake a waiter from its body.
//
// States (like leveldb's sticky background error and pager.c's ERROR state):
//
//   HEALTHY --BEGIN or COMMIT fails [group rolled back, Done/deferred get the error]--> FAILED
//   FAILED  --recover() [every Recovery reloaded its memory from disk]----------------> HEALTHY
//   FAILED  --a job arrives--> FAILED [job not run; its on_refused gets kInternal]
//
// While FAILED the engines' memory is not trusted (a job of the failed group may have changed
// it), so no job runs and the tick does not run; the worker retries recovery before every
// group and at least every kRecoveryRetryMs.
//
// Thread safety: submit(), poke() and stop() from any thread. Jobs, the tick, recoveries and
// completions run on the worker thread (checked in debug builds by assert_on_worker());
// completions should hand off (post) to their own executor quickly.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "core/check.h"
#include "core/clock.h"
#include "core/status.h"
#include "storage/sqlite.h"

namespace esm::storage {

class DbWorker {
 public:
  // Called after the commit with its status (or with kInternal when the job was refused).
  using Done = std::function<void(const Status& commit)>;
  using Job = std::function<Done(Connection&)>;
  // Runs at the start of every healthy group and on wake-ups, inside the transaction. Returns
  // the epoch-ms time it next wants to run, if any.
  using Tick = std::function<std::optional<std::int64_t>(Connection&, std::int64_t now_ms)>;
  // Rebuilds one engine's memory from the database after a failed commit, answering whatever
  // it had waiting (long polls, stream waiters) with an error first. OK only when its memory
  // matches the disk again.
  using Recovery = std::function<Status(Connection&, std::int64_t now_ms)>;

  static constexpr std::int64_t kRecoveryRetryMs = 200;

  DbWorker(std::unique_ptr<Connection> conn, const Clock& clock);
  ~DbWorker();
  DbWorker(const DbWorker&) = delete;
  DbWorker& operator=(const DbWorker&) = delete;

  // Before start(): an engine whose memory mirrors tables registers how to reload it.
  void add_recovery(Recovery r) { recoveries_.push_back(std::move(r)); }
  void start(Tick tick);
  // on_refused runs on the worker thread instead of the job while the worker is FAILED (or
  // stopped), with kInternal, so that every caller hears back.
  void submit(Job job, Done on_refused);
  // A job whose changes esmd can afford to lose in a power cut (not in a crash): a poller's
  // receive marks and its deletes after a delivered batch, where a loss only means a
  // redelivery, which at-least-once allows. A group made only of such jobs (and the tick) is
  // committed without an fsync; any acknowledged client change in the group makes it durable.
  void submit_relaxed(Job job, Done on_refused);
  // Wakes the worker so that the tick runs again now (e.g. a new transition was scheduled).
  void poke();
  // Worker thread only (inside a job or the tick): runs fn after the current group's commit,
  // with its status. For replies produced as a side effect of another job, e.g. a long poll
  // that a send satisfies, and for waking pollers.
  void defer(std::function<void(const Status& commit)> fn) {
    assert_on_worker();
    deferred_.push_back(std::move(fn));
  }
  // Finishes the queued jobs, then joins the thread.
  void stop();

  // False once a commit failed, until recovery succeeded (any thread; for health reports).
  bool healthy() const { return healthy_.load(); }
  // Debug builds: aborts unless called on the worker thread (or before it started).
  void assert_on_worker() const {
    const std::thread::id id = worker_id_.load();
    ESM_DCHECK(id == std::thread::id() || id == std::this_thread::get_id());
  }

  // For start-up code and tests only: runs fn on the worker and waits for the commit. R must
  // be constructible from a Status: a failed commit or a refusal is returned as that Status.
  template <typename F>
  auto run_sync(F fn) -> std::invoke_result_t<F, Connection&> {
    using R = std::invoke_result_t<F, Connection&>;
    if (!thread_.joinable()) {
      // Not started: run inline (start-up, before the worker thread exists).
      return fn(*conn_);
    }
    auto p = std::make_shared<std::promise<R>>();
    auto fut = p->get_future();
    submit(
        [fn = std::move(fn), p](Connection& c) mutable -> Done {
          auto r = std::make_shared<R>(fn(c));
          return [p, r](const Status& commit) {
            if constexpr (std::is_constructible_v<R, Status>) {
              if (!commit.is_ok()) return p->set_value(R(commit));
            }
            p->set_value(std::move(*r));
          };
        },
        [p](const Status& s) {
          if constexpr (std::is_constructible_v<R, Status>) p->set_value(R(s));
          else p->set_exception(std::make_exception_ptr(std::runtime_error(s.message())));
        });
    return fut.get();
  }

 private:
  struct Entry {
    Job job;
    Done on_refused;
    bool durable;
  };

  void loop();
  void enqueue(Entry e);
  // Runs one group in a transaction; false when BEGIN or COMMIT failed (the worker is FAILED).
  bool run_group(std::vector<Entry>& group, bool durable, std::optional<std::int64_t>& next_tick);
  // Answers every job of the group through on_refused.
  static void refuse(std::vector<Entry>& group, const Status& why);
  // Reloads every engine; true when all of them came back.
  bool recover();

  std::unique_ptr<Connection> conn_;
  const Clock& clock_;
  Tick tick_;
  std::vector<Recovery> recoveries_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Entry> queue_;
  bool base_full_ = true;     // worker thread only: the connection was opened with synchronous=FULL
  bool synced_full_ = true;   // worker thread only: the synchronous setting now in force
  std::vector<std::function<void(const Status&)>> deferred_;  // worker thread only
  std::atomic<bool> healthy_{true};
  bool poked_ = false;
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<std::thread::id> worker_id_{};  // set by the worker thread when it starts
};

}  // namespace esm::storage
