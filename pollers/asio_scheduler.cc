#include "pollers/asio_scheduler.h"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>

namespace esm::pollers {

class AsioTimer final : public Scheduler::Timer, public std::enable_shared_from_this<AsioTimer> {
 public:
  AsioTimer(boost::asio::io_context& ioc, const Clock& clock, std::int64_t at_ms, std::function<void()> fn)
      : timer_(boost::asio::make_strand(ioc)), clock_(clock), at_ms_(at_ms), fn_(std::move(fn)) {}

  // On the timer's strand (or before anyone else sees the timer): the wait, its re-arming,
  // nudges and cancels never run at once.
  void arm() {
    timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, at_ms_ - clock_.now_ms())));
    // The handler holds the timer, so a handle its owner dropped still fires; owners cancel.
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code&) { self->on_wait(); });
  }

  // The flag makes cancel() exact even when the expiry is already queued; the timer itself is
  // cancelled on its executor (steady_timer is not thread safe) only to free it early.
  void cancel() override {
    if (done_.exchange(true)) return;
    boost::asio::post(timer_.get_executor(), [self = shared_from_this()] { self->timer_.cancel(); });
  }

  // Any thread: the clock jumped; wake the wait so that it re-arms for the time now left.
  void nudge() {
    if (done_.load()) return;
    boost::asio::post(timer_.get_executor(), [self = shared_from_this()] { self->timer_.cancel(); });
  }

  bool done() const { return done_.load(); }

 private:
  void on_wait() {
    if (done_.load()) return;
    // Woken early (a nudge, or the clocks disagree): wait for the rest.
    if (clock_.now_ms() < at_ms_) return arm();
    if (done_.exchange(true)) return;
    auto fn = std::move(fn_);
    fn();
  }

  boost::asio::steady_timer timer_;
  const Clock& clock_;
  const std::int64_t at_ms_;
  std::function<void()> fn_;
  std::atomic<bool> done_{false};  // ran or cancelled
};

Scheduler::TimerHandle AsioScheduler::run_at(std::int64_t at_ms, std::function<void()> fn) {
  auto t = std::make_shared<AsioTimer>(ioc_, clock_, at_ms, std::move(fn));
  t->arm();
  std::lock_guard lk(mu_);
  for (auto it = timers_.begin(); it != timers_.end();) {
    auto live = it->lock();
    it = (!live || live->done()) ? timers_.erase(it) : std::next(it);
  }
  timers_.push_back(t);
  return t;
}

void AsioScheduler::clock_changed() {
  std::lock_guard lk(mu_);
  for (auto& weak : timers_)
    if (auto t = weak.lock()) t->nudge();
}

}  // namespace esm::pollers
