#pragma once
// Scheduler: the one way a poller waits. It reads the time (a Clock) and runs a function at a
// later time, cancellably, so that a test moves the pollers' time by hand
// (tests/fakes/fake_scheduler.h) instead of sleeping. The production implementation is
// pollers/asio_scheduler.h (a steady timer per wait).
//
// Threading: run_at() and cancel() from any thread. `fn` runs on a thread of the scheduler's
// choosing, never inline from run_at(); a poller's fn posts itself to the poller's strand.

#include <cstdint>
#include <functional>
#include <memory>

#include "core/clock.h"

namespace esm {

class Scheduler : public Clock {
 public:
  // A pending run_at(). cancel() before it ran means it never runs; after, it does nothing.
  class Timer {
   public:
    virtual ~Timer() = default;
    virtual void cancel() = 0;
  };
  using TimerHandle = std::shared_ptr<Timer>;

  // Runs fn once the clock reads at_ms or later (at once, not inline, when at_ms has passed).
  virtual TimerHandle run_at(std::int64_t at_ms, std::function<void()> fn) = 0;
};

}  // namespace esm
