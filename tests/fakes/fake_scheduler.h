#pragma once
// FakeScheduler: a Scheduler (core/scheduler.h) whose time moves only when a test says so.
// advance_ms() runs what came due, in time order (ties in the order they were scheduled), with
// the clock set to each one's time as it runs; between two runs it calls the test's settle
// function, so that the work a run started (posted handlers, database jobs) finishes before
// the next due function, as it would in real time.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <atomic>
#include <utility>

#include "core/scheduler.h"

namespace esm::testing {

class FakeScheduler final : public Scheduler {
 public:
  explicit FakeScheduler(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}

  std::int64_t now_ms() const override {
    std::lock_guard lk(mu_);
    return now_;
  }

  TimerHandle run_at(std::int64_t at_ms, std::function<void()> fn) override {
    auto t = std::make_shared<FakeTimer>();
    std::lock_guard lk(mu_);
    due_.emplace(std::make_pair(at_ms, next_seq_++), Entry{t, std::move(fn)});
    return t;
  }

  // Runs between two due functions (and after the last one); typically drains the io_context
  // and the database worker.
  void set_settle(std::function<void()> settle) { settle_ = std::move(settle); }

  // Moves time forward by d_ms, running everything due on the way (d_ms = 0: what is due now).
  void advance_ms(std::int64_t d_ms) {
    std::int64_t target;
    {
      std::lock_guard lk(mu_);
      target = now_ + d_ms;
    }
    for (;;) {
      Entry e;
      {
        std::lock_guard lk(mu_);
        auto it = due_.begin();
        if (it == due_.end() || it->first.first > target) break;
        now_ = std::max(now_, it->first.first);
        e = std::move(it->second);
        due_.erase(it);
      }
      if (e.timer->cancelled) continue;
      e.timer->cancelled = true;  // ran: a later cancel() does nothing
      e.fn();
      if (settle_) settle_();
    }
    std::lock_guard lk(mu_);
    now_ = std::max(now_, target);
  }

  // Drops every wait (and what it holds) without running it; for a test's teardown.
  void clear() {
    std::map<std::pair<std::int64_t, std::uint64_t>, Entry> due;
    {
      std::lock_guard lk(mu_);
      due.swap(due_);
    }
  }

  // The earliest time something is waiting for, if anything is (cancelled waits excluded).
  std::optional<std::int64_t> next_due() const {
    std::lock_guard lk(mu_);
    for (const auto& [key, e] : due_)
      if (!e.timer->cancelled) return key.first;
    return std::nullopt;
  }

 private:
  struct FakeTimer final : Timer {
    void cancel() override { cancelled = true; }
    std::atomic<bool> cancelled{false};
  };
  struct Entry {
    std::shared_ptr<FakeTimer> timer;
    std::function<void()> fn;
  };

  mutable std::mutex mu_;
  std::int64_t now_;
  std::uint64_t next_seq_ = 0;
  std::map<std::pair<std::int64_t, std::uint64_t>, Entry> due_;
  std::function<void()> settle_;
};

}  // namespace esm::testing
