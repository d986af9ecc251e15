#pragma once
// AsioScheduler: the production Scheduler (core/scheduler.h). Each run_at() is a steady timer
// on the io_context, armed for the time left on the Clock; the functions run on an I/O thread.
// A timer that wakes before the Clock reads its time (the clock moved back, or the steady and
// wall clocks drifted) waits again for the rest.
//
// clock_changed(): the Clock jumped (a test moved it, core/clock.h ShiftableClock): every
// pending timer re-arms for the time now left, so a wait that came due runs at once.
//
// Threading: any thread. The timers live on the io_context, so the scheduler and every handle
// must not outlive it (the composition root owns both and stops the pollers first).

#include <boost/asio/io_context.hpp>
#include <list>
#include <memory>
#include <mutex>

#include "core/clock.h"
#include "core/scheduler.h"

namespace esm::pollers {

class AsioTimer;

class AsioScheduler final : public Scheduler {
 public:
  AsioScheduler(boost::asio::io_context& ioc, const Clock& clock) : ioc_(ioc), clock_(clock) {}

  std::int64_t now_ms() const override { return clock_.now_ms(); }
  TimerHandle run_at(std::int64_t at_ms, std::function<void()> fn) override;
  void clock_changed();

 private:
  boost::asio::io_context& ioc_;
  const Clock& clock_;
  std::mutex mu_;
  std::list<std::weak_ptr<AsioTimer>> timers_;  // pending or finished; pruned on the way
};

}  // namespace esm::pollers
