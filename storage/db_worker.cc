#include "storage/db_worker.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <vector>

namespace esm::storage {

namespace {
// Bounds one group so that a burst cannot hold the transaction open indefinitely.
constexpr std::size_t kMaxGroup = 256;

Status unavailable() { return internal_error("The database is unavailable: a commit failed and esmd is recovering."); }
}  // namespace

DbWorker::DbWorker(std::unique_ptr<Connection> conn, const Clock& clock) : conn_(std::move(conn)), clock_(clock) {}

DbWorker::~DbWorker() { stop(); }

void DbWorker::start(Tick tick) {
  tick_ = std::move(tick);
  poked_ = true;  // run the tick once at start-up: transitions cut short by a crash settle now
  thread_ = std::thread([this] {
    worker_id_ = std::this_thread::get_id();
    loop();
  });
}

void DbWorker::enqueue(Entry e) {
  {
    std::lock_guard lk(mu_);
    queue_.push_back(std::move(e));
  }
  cv_.notify_one();
}

void DbWorker::submit(Job job, Done on_refused) { enqueue({std::move(job), std::move(on_refused), true}); }

void DbWorker::submit_relaxed(Job job, Done on_refused) { enqueue({std::move(job), std::move(on_refused), false}); }

void DbWorker::poke() {
  {
    std::lock_guard lk(mu_);
    poked_ = true;
  }
  cv_.notify_one();
}

void DbWorker::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void DbWorker::refuse(std::vector<Entry>& group, const Status& why) {
  for (auto& e : group)
    if (e.on_refused) e.on_refused(why);
}

bool DbWorker::recover() {
  const std::int64_t now = clock_.now_ms();
  for (auto& r : recoveries_) {
    Status s;
    try {
      s = r(*conn_, now);
    } catch (const std::exception& e) {
      s = internal_error(e.what());
    }
    if (!s.is_ok()) {
      spdlog::error("database: recovery failed, still refusing work: {}", s.message());
      return false;
    }
  }
  spdlog::warn("database: recovered; the engines were reloaded from disk");
  healthy_ = true;
  return true;
}

bool DbWorker::run_group(std::vector<Entry>& group, bool durable, std::optional<std::int64_t>& next_tick) {
  // synchronous can only change between transactions; FULL again before any group that
  // acknowledges a client's change, which also syncs what the relaxed groups wrote.
  if (base_full_ && durable != synced_full_) {
    Status s = conn_->exec(durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    if (s.is_ok()) synced_full_ = durable;
    else if (durable) {
      // An acknowledged change must not be committed with a weaker sync than promised.
      spdlog::error("database: cannot restore synchronous=FULL: {}", s.message());
      healthy_ = false;
      refuse(group, s);
      return false;
    }
  }
  Transaction tx(*conn_);
  if (!tx.begin_status().is_ok()) {
    // Never run jobs in autocommit: each statement would commit on its own.
    healthy_ = false;
    spdlog::error("database: cannot begin a transaction: {}", tx.begin_status().message());
    refuse(group, internal_error("cannot begin a transaction: " + tx.begin_status().message()));
    return false;
  }
  std::vector<Done> done;
  done.reserve(group.size());
  // The tick is one indexed query; running it every group keeps its wake-up time exact
  // however the jobs moved it.
  if (tick_) next_tick = tick_(*conn_, clock_.now_ms());
  for (auto& e : group) {
    try {
      done.push_back(e.job(*conn_));
    } catch (const std::exception& ex) {
      spdlog::error("database job failed: {}", ex.what());
      done.push_back([refused = std::move(e.on_refused), what = std::string(ex.what())](const Status&) {
        if (refused) refused(internal_error(what));
      });
    }
  }
  const Status commit = tx.commit();
  if (!commit.is_ok()) {
    // FAILED before any completion runs: whatever a completion submits is refused until the
    // engines are reloaded.
    healthy_ = false;
    spdlog::error("database commit failed: {}", commit.message());
  }
  for (auto& d : done)
    if (d) d(commit);
  std::vector<std::function<void(const Status&)>> deferred;
  deferred.swap(deferred_);
  for (auto& fn : deferred) fn(commit);
  return commit.is_ok();
}

void DbWorker::loop() {
  std::optional<std::int64_t> next_tick;
  bool durable = true;
  std::vector<Entry> group;
  {
    Statement& q = conn_->prepare("PRAGMA synchronous");
    base_full_ = synced_full_ = q.step() && q.int64(0) >= 2;
    q.reset();
  }
  for (;;) {
    {
      std::unique_lock lk(mu_);
      auto ready = [&] { return stopping_ || poked_ || !queue_.empty(); };
      if (!ready()) {
        std::optional<std::int64_t> wake = next_tick;
        if (!healthy_) wake = clock_.now_ms() + kRecoveryRetryMs;
        if (wake) {
          const auto wait_ms = *wake - clock_.now_ms();
          if (wait_ms > 0) cv_.wait_for(lk, std::chrono::milliseconds(wait_ms), ready);
        } else {
          cv_.wait(lk, ready);
        }
      }
      if (stopping_ && queue_.empty()) return;
      poked_ = false;
      durable = false;
      while (!queue_.empty() && group.size() < kMaxGroup) {
        durable = durable || queue_.front().durable;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (!healthy_ && !recover()) {
      refuse(group, unavailable());
    } else if (!run_group(group, durable, next_tick)) {
      // The group was rolled back (run_group marked the worker FAILED); memory may hold its
      // changes. Reload before anything else runs; until that works every job is refused.
      if (recover()) {
        std::lock_guard lk(mu_);
        poked_ = true;  // the tick runs on the reloaded engines at once
      }
    }
    group.clear();
  }
}

}  // namespace esm::storage
