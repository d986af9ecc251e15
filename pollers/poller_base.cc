#include "pollers/poller_base.h"

namespace esm::pollers {

PollerBase::PollerBase(PollerDeps deps, Mapping mapping)
    : deps_(deps), strand_(boost::asio::make_strand(deps.ioc)), config_(std::move(mapping)) {
  filter_ = compile_mapping_filter(config_);
}

void PollerBase::start() {
  post([this] { on_start(); });
}

void PollerBase::update(Mapping mapping) {
  boost::asio::post(strand_, [self = shared_from_this(), m = std::move(mapping)]() mutable { self->apply(std::move(m)); });
}

void PollerBase::stop(std::function<void()> on_stopped) {
  boost::asio::post(strand_, [self = shared_from_this(), cb = std::move(on_stopped)]() mutable {
    self->stopping_ = true;
    self->on_stopped_ = std::move(cb);
    self->on_stop();
    self->check_stopped();
  });
}

bool PollerBase::should_poll() const {
  if (stopping_) return false;
  // Updating keeps polling when it settles back to Enabled (control-plane.md §3.4).
  return config_.state == MappingState::kEnabled ||
         (config_.state == MappingState::kUpdating && config_.settle_to == MappingState::kEnabled);
}

void PollerBase::apply(Mapping mapping) {
  assert_on_strand();
  const bool was_polling = should_poll();
  if (was_polling && mapping.state == MappingState::kUpdating) {
    // The new configuration applies when Updating settles; until then the old one polls on.
    config_.state = mapping.state;
    config_.settle_to = mapping.settle_to;
    return;
  }
  Mapping old = std::move(config_);
  config_ = std::move(mapping);
  if (config_.filter_patterns != old.filter_patterns) filter_ = compile_mapping_filter(config_);
  on_config(old, was_polling);
}

void PollerBase::invoke(std::string event, std::function<void(InvokeOutcome)> on_done) {
  assert_on_strand();
  ++in_flight_;
  deps_.invoker.invoke(
      InvokeRequest{config_.function_arn, config_.uuid, std::move(event)},
      [self = shared_from_this(), on_done = std::move(on_done)](InvokeOutcome outcome) mutable {
        boost::asio::post(self->strand_, [self, on_done = std::move(on_done), outcome = std::move(outcome)]() mutable {
          --self->in_flight_;
          on_done(std::move(outcome));
          self->check_stopped();
        });
      });
}

Scheduler::TimerHandle PollerBase::run_at(std::int64_t at_ms, std::function<void()> fn) {
  return deps_.scheduler.run_at(at_ms, [self = shared_from_this(), fn = std::move(fn)]() mutable {
    boost::asio::post(self->strand_, [self, fn = std::move(fn)] { fn(); });
  });
}

void PollerBase::post(std::function<void()> fn) {
  boost::asio::post(strand_, [self = shared_from_this(), fn = std::move(fn)] { fn(); });
}

void PollerBase::check_stopped() {
  assert_on_strand();
  if (stopping_ && in_flight_ == 0 && !busy() && on_stopped_) {
    auto cb = std::move(on_stopped_);
    on_stopped_ = nullptr;
    cb();
  }
}

}  // namespace esm::pollers
