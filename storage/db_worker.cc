#include "storage/db_worker.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <vector>

namespace esm::storage {

namespace {
// Bounds one group so that a burst cannot hold the transaction open indefinitely.
constexpr std::size_t kMaxGroup = 256;
}  // namespace

DbWorker::DbWorker(std::unique_ptr<Connection> conn, const Clock& clock) : conn_(std::move(conn)), clock_(clock) {}

DbWorker::~DbWorker() { stop(); }

void DbWorker::start(Tick tick) {
  tick_ = std::move(tick);
  poked_ = true;  // run the tick once at start-up: transitions cut short by a crash settle now
  thread_ = std::thread([this] { loop(); });
}

void DbWorker::submit(Job job) {
  {
    std::lock_guard lk(mu_);
    queue_.push_back({std::move(job), true});
  }
  cv_.notify_one();
}

void DbWorker::submit_relaxed(Job job) {
  {
    std::lock_guard lk(mu_);
    queue_.push_back({std::move(job), false});
  }
  cv_.notify_one();
}

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

void DbWorker::loop() {
  std::optional<std::int64_t> next_tick;
  bool durable = true;
  std::vector<Job> group;
  std::vector<Done> done;
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
        if (next_tick) {
          const auto wait_ms = *next_tick - clock_.now_ms();
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
        group.push_back(std::move(queue_.front().job));
        queue_.pop_front();
      }
    }
    // synchronous can only change between transactions; FULL again before any group that
    // acknowledges a client's change, which also syncs what the relaxed groups wrote.
    if (base_full_ && durable != synced_full_) {
      if (conn_->exec(durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL").is_ok()) synced_full_ = durable;
    }
    Transaction tx(*conn_);
    if (!tx.begin_status().is_ok())
      spdlog::error("database: cannot begin a transaction: {}", tx.begin_status().message());
    // The tick is one indexed query; running it every group keeps its wake-up time exact
    // however the jobs moved it.
    if (tick_) next_tick = tick_(*conn_, clock_.now_ms());
    for (auto& job : group) {
      try {
        done.push_back(job(*conn_));
      } catch (const std::exception& e) {
        spdlog::error("database job failed: {}", e.what());
        done.push_back(nullptr);
      }
    }
    const Status commit = tx.begin_status().is_ok() ? tx.commit() : tx.begin_status();
    if (!commit.is_ok()) spdlog::error("database commit failed: {}", commit.message());
    for (auto& d : done)
      if (d) d(commit);
    done.clear();
    std::vector<std::function<void()>> deferred;
    deferred.swap(deferred_);
    for (auto& fn : deferred) fn();
    group.clear();
  }
}

}  // namespace esm::storage
