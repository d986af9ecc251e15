#pragma once
// PollerBase: the lifecycle every mapping poller shares, so that a source's poller holds only
// what its source adds. It owns the strand, the configuration with its compiled filter, the
// in-flight invocation count and the stop completion.
//
// Per mapping state (control-plane.md §3.4): only Enabled polls; Updating keeps polling with
// the old configuration and takes the new one when the state settles; leaving Enabled stops
// receiving and lets in-flight invocations finish. The base applies that rule; a poller hears
// of a configuration it must act on through on_config().
//
//   start()  --> on_start()                       [strand]
//   update() --> Updating while polling: state only; else config_ replaced, on_config(old)
//   stop()   --> stopping_, on_stop(); on_stopped runs once in_flight() == 0 and !busy()
//
// Threading: start/update/stop from any thread; everything else on the strand. Timers and
// invocation answers are posted back to the strand, holding the poller; database jobs should
// hold it weakly (weak_self()) so that a job the worker drops at shutdown is not its owner.

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <functional>
#include <memory>
#include <string>

#include "core/check.h"
#include "core/invoke.h"
#include "core/mapping.h"
#include "core/scheduler.h"
#include "pollers/filter.h"
#include "pollers/poller.h"

namespace esm::pollers {

class PollerBase : public Poller, public std::enable_shared_from_this<PollerBase> {
 public:
  void start() final;
  void update(Mapping mapping) final;
  void stop(std::function<void()> on_stopped) final;

 protected:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  PollerBase(PollerDeps deps, Mapping mapping);

  // Strand: begin polling (if should_poll()).
  virtual void on_start() = 0;
  // Strand: config_ was replaced by a new configuration or state; `old` is the previous one
  // and was_polling what should_poll() said under it.
  virtual void on_config(const Mapping& old, bool was_polling) = 0;
  // Strand: stop() arrived; stop receiving and drop what was not sent.
  virtual void on_stop() = 0;
  // Strand: work other than invocations that must end before stop completes (a receive).
  virtual bool busy() const { return false; }

  bool should_poll() const;
  bool stopping() const { return stopping_; }
  int in_flight() const { return in_flight_; }
  const Mapping& config() const { return config_; }
  const EventFilter& filter() const { return *filter_; }
  const PollerDeps& deps() const { return deps_; }
  Strand& strand() { return strand_; }
  std::int64_t now_ms() const { return deps_.scheduler.now_ms(); }

  // Invokes the mapping's function with `event`, counted in flight until on_done returned
  // (on the strand); stop completes after the last one.
  void invoke(std::string event, std::function<void(InvokeOutcome)> on_done);
  // Runs fn on the strand at at_ms (through the Scheduler); the poller lives until then.
  Scheduler::TimerHandle run_at(std::int64_t at_ms, std::function<void()> fn);
  // Runs fn on the strand, holding the poller.
  void post(std::function<void()> fn);
  // Completes a stop once nothing is in flight or busy.
  void check_stopped();
  // "Strand only", checked in debug and sanitizer builds.
  void assert_on_strand() const { ESM_DCHECK(strand_.running_in_this_thread()); }

  template <typename T>
  std::shared_ptr<T> self() {
    return std::static_pointer_cast<T>(shared_from_this());
  }
  template <typename T>
  std::weak_ptr<T> weak_self() {
    return self<T>();
  }

 private:
  void apply(Mapping mapping);

  PollerDeps deps_;
  Strand strand_;
  Mapping config_;
  std::shared_ptr<const EventFilter> filter_;  // config_.filter_patterns, compiled
  bool stopping_ = false;
  int in_flight_ = 0;
  std::function<void()> on_stopped_;
};

}  // namespace esm::pollers
