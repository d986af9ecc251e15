#include "pollers/sqs_poller.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <set>

#include "core/arn.h"
#include "pollers/sqs_event.h"

namespace esm::pollers {
namespace {

// How long one idle long poll lasts before the poller renews it.
constexpr std::int64_t kLongPollMs = 20000;
constexpr auto kRetryDelay = std::chrono::seconds(1);

}  // namespace

SqsPoller::SqsPoller(PollerDeps deps, Mapping mapping)
    : deps_(deps), strand_(boost::asio::make_strand(deps.ioc)), retry_timer_(strand_), config_(std::move(mapping)) {
  filter_ = compile_mapping_filter(config_);
}

void SqsPoller::start() {
  boost::asio::post(strand_, [self = shared_from_this()] { self->maybe_receive(); });
}

void SqsPoller::update(Mapping mapping) {
  boost::asio::post(strand_, [self = shared_from_this(), m = std::move(mapping)]() mutable { self->apply(std::move(m)); });
}

void SqsPoller::stop(std::function<void()> on_stopped) {
  boost::asio::post(strand_, [self = shared_from_this(), cb = std::move(on_stopped)]() mutable {
    self->stopping_ = true;
    self->on_stopped_ = std::move(cb);
    ++self->generation_;
    self->retry_timer_.cancel();
    self->drop_unsent();
    const std::string owner = self->config_.uuid;
    self->deps_.db.submit_relaxed([queues = &self->deps_.queues, owner](storage::Connection&) -> storage::DbWorker::Done {
      queues->cancel_waiters(owner);
      return nullptr;
    }, nullptr);
    self->check_stopped();
  });
}

bool SqsPoller::should_poll() const {
  if (stopping_) return false;
  // Updating keeps polling when it settles back to Enabled (control-plane.md §3.4).
  return config_.state == MappingState::kEnabled ||
         (config_.state == MappingState::kUpdating && config_.settle_to == MappingState::kEnabled);
}

int SqsPoller::concurrency() const {
  int n = config_.maximum_concurrency.value_or(deps_.default_concurrency);
  if (auto ref = parse_function_ref(config_.function_arn)) {
    if (auto f = deps_.functions.find(ref->name); f && f->target.starts_with("http://"))
      n = std::min(n, std::max(1, f->concurrency));
  }
  return std::max(1, n);
}

void SqsPoller::apply(Mapping mapping) {
  const bool was_polling = should_poll();
  if (was_polling && mapping.state == MappingState::kUpdating) {
    // The new configuration applies when Updating settles; until then the old one polls on.
    config_.state = mapping.state;
    config_.settle_to = mapping.settle_to;
    return;
  }
  const bool new_filter = mapping.filter_patterns != config_.filter_patterns;
  config_ = std::move(mapping);
  if (new_filter) filter_ = compile_mapping_filter(config_);
  if (was_polling && !should_poll()) {
    ++generation_;
    drop_unsent();
    spdlog::info("mapping {}: poller paused ({})", config_.uuid, to_string(config_.state));
    const std::string owner = config_.uuid;
    deps_.db.submit_relaxed([queues = &deps_.queues, owner](storage::Connection&) -> storage::DbWorker::Done {
      queues->cancel_waiters(owner);
      return nullptr;
    }, nullptr);
  } else if (!was_polling && should_poll()) {
    spdlog::info("mapping {}: poller running", config_.uuid);
  }
  flush();
  maybe_receive();
}

void SqsPoller::drop_unsent() {
  // Messages received but not yet sent stay invisible until their timeout (§2.7).
  pending_ = Batch{};
  ready_.clear();
}

void SqsPoller::maybe_receive() {
  if (!should_poll() || receiving_ || !ready_.empty() || in_flight_ >= concurrency()) return;
  receiving_ = true;
  const std::int64_t now = deps_.clock.now_ms();
  services::sqs::ReceiveOptions opt;
  opt.max_messages = std::max(1, config_.batch_size - static_cast<int>(pending_.messages.size()));
  opt.wait_ms = pending_.messages.empty() ? kLongPollMs : std::max<std::int64_t>(0, deadline_ms_ - now);
  opt.owner = config_.uuid;
  const int window = config_.batching_window_s.value_or(0);
  int fn_timeout_s = 3;
  if (auto ref = parse_function_ref(config_.function_arn))
    if (auto f = deps_.functions.find(ref->name)) fn_timeout_s = (f->timeout_ms + 999) / 1000;
  const std::uint64_t gen = generation_;
  const std::string arn = config_.event_source_arn;
  // The job and the long poll hold the poller weakly: one the DbWorker or the queue engine drops
  // at shutdown must not be its last owner (its timer must die before the io_context).
  auto deliver = [weak = weak_from_this(), gen](services::sqs::ReceiveResult got) {
    auto poller = weak.lock();
    if (!poller) return;  // gone: the messages return after their visibility timeout
    boost::asio::post(poller->strand_, [poller, gen, got = std::move(got)]() mutable {
      poller->on_received(gen, std::move(got));
    });
  };
  deps_.db.submit_relaxed([weak = weak_from_this(), arn, opt, window, fn_timeout_s,
                           deliver](storage::Connection& c) mutable -> storage::DbWorker::Done {
    auto self = weak.lock();
    if (!self) return nullptr;
    auto& queues = self->deps_.queues;
    services::sqs::Queue* q = queues.find_by_arn(arn);
    if (!q) {
      return [deliver](const Status& commit) {
        deliver(commit.is_ok() ? services::sqs::Error{services::sqs::ErrorKind::kNonExistentQueue}
                               : services::sqs::Error::internal(commit));
      };
    }
    // With a window the messages must outlive the wait plus the invocation (§2.2).
    if (window > 0 && window + fn_timeout_s > q->visibility_timeout_s) opt.visibility_timeout_s = window + fn_timeout_s + 30;
    queues.receive(c, *q, opt, self->deps_.clock.now_ms(), deliver);
    return nullptr;
  }, [deliver](const Status& s) { deliver(services::sqs::Error::internal(s)); });
}

void SqsPoller::on_received(std::uint64_t generation, services::sqs::ReceiveResult got) {
  receiving_ = false;
  if (!got) {
    spdlog::debug("mapping {}: receive failed: {}", config_.uuid, services::sqs::kind_name(got.error().kind));
    retry_later();
    return;
  }
  if (generation != generation_ || !should_poll()) {
    std::vector<std::string> receipts;
    for (auto& r : *got) receipts.push_back(r.receipt_handle);
    if (!receipts.empty()) release(std::move(receipts));
    check_stopped();
    return;
  }
  const bool with_window = config_.batching_window_s.value_or(0) >= 1;
  std::vector<std::string> filtered_out;
  for (auto& r : *got) {
    std::string record =
        sqs_record_json(r.message, r.receipt_handle, config_.event_source_arn, config_.region, with_window);
    if (sqs_record_passes(*filter_, record, r.message.body)) {
      add_to_batch(std::move(r), std::move(record));
    } else {
      filtered_out.push_back(std::move(r.receipt_handle));
    }
  }
  if (!filtered_out.empty()) {
    spdlog::debug("mapping {}: {} messages match no filter; deleting them", config_.uuid, filtered_out.size());
    delete_messages(std::move(filtered_out));
  }
  const int window = config_.batching_window_s.value_or(0);
  if (!pending_.messages.empty() && (static_cast<int>(pending_.messages.size()) >= config_.batch_size ||
                                     window == 0 || deps_.clock.now_ms() >= deadline_ms_))
    seal();
  flush();
  maybe_receive();
}

void SqsPoller::add_to_batch(services::sqs::Received r, std::string record) {
  // The message that would take the event past 6 MB opens the next batch.
  if (!pending_.messages.empty() &&
      sqs_event_size(pending_.messages.size() + 1, pending_.record_bytes + record.size()) > kMaxEventBytes)
    seal();
  if (pending_.messages.empty()) deadline_ms_ = deps_.clock.now_ms() + config_.batching_window_s.value_or(0) * 1000LL;
  pending_.record_bytes += record.size();
  pending_.records.push_back(std::move(record));
  pending_.messages.push_back(std::move(r));
}

void SqsPoller::seal() {
  if (pending_.messages.empty()) return;
  ready_.push_back(std::move(pending_));
  pending_ = Batch{};
}

bool SqsPoller::groups_free(const Batch& b) const {
  for (const auto& r : b.messages)
    if (!r.message.group_id.empty() && groups_in_flight_.count(r.message.group_id)) return false;
  return true;
}

void SqsPoller::flush() {
  // In order: a FIFO batch behind a busy group holds back the ones after it.
  while (should_poll() && !ready_.empty() && in_flight_ < concurrency() && groups_free(ready_.front())) {
    Batch b = std::move(ready_.front());
    ready_.pop_front();
    dispatch(std::move(b));
  }
}

void SqsPoller::dispatch(Batch batch) {
  ++in_flight_;
  for (const auto& r : batch.messages)
    if (!r.message.group_id.empty()) ++groups_in_flight_[r.message.group_id];
  std::string event = sqs_event_json(batch.records);
  batch.records.clear();
  const bool report = config_.report_batch_item_failures.value_or(false);
  InvokeRequest req{config_.function_arn, config_.uuid, std::move(event)};
  spdlog::debug("mapping {}: invoking {} with {} messages", config_.uuid, config_.function_arn,
                batch.messages.size());
  deps_.invoker.invoke(std::move(req), [self = shared_from_this(), batch = std::move(batch), report](
                                           InvokeOutcome outcome) mutable {
    boost::asio::post(self->strand_, [self, batch = std::move(batch), report, outcome = std::move(outcome)]() mutable {
      self->on_invoked(std::move(batch), report, std::move(outcome));
    });
  });
}

void SqsPoller::on_invoked(Batch batch, bool report_failures, InvokeOutcome outcome) {
  --in_flight_;
  std::set<std::string> ids;
  for (const auto& r : batch.messages) ids.insert(r.message.message_id);
  const BatchVerdict verdict = judge_batch(outcome, report_failures, ids);
  std::vector<std::string> to_delete;
  if (!verdict.complete_failure)
    for (const auto& r : batch.messages)
      if (!verdict.failed.count(r.message.message_id)) to_delete.push_back(r.receipt_handle);
  if (verdict.complete_failure)
    spdlog::debug("mapping {}: batch of {} failed ({}); messages return after the visibility timeout", config_.uuid,
                  batch.messages.size(), outcome.detail.empty() ? outcome.function_error : outcome.detail);
  if (!to_delete.empty()) delete_messages(std::move(to_delete));
  // After the delete job: the DbWorker runs jobs in order, so a receive that follows sees the
  // group's messages gone or, after a failure, still locked.
  for (const auto& r : batch.messages) {
    if (r.message.group_id.empty()) continue;
    auto it = groups_in_flight_.find(r.message.group_id);
    if (it != groups_in_flight_.end() && --it->second <= 0) groups_in_flight_.erase(it);
  }
  flush();
  maybe_receive();
  check_stopped();
}

void SqsPoller::delete_messages(std::vector<std::string> receipts) {
  const std::string arn = config_.event_source_arn;
  deps_.db.submit_relaxed([queues = &deps_.queues, arn, receipts = std::move(receipts)](storage::Connection& c) -> storage::DbWorker::Done {
    if (services::sqs::Queue* q = queues->find_by_arn(arn))
      for (const auto& h : receipts)
        if (auto r = queues->delete_message(c, *q, h); !r)
          spdlog::warn("sqs: delete after a batch failed: {}", services::sqs::kind_name(r.error().kind));
    return nullptr;
  }, nullptr);
}

void SqsPoller::release(std::vector<std::string> receipts) {
  const std::string arn = config_.event_source_arn;
  deps_.db.submit_relaxed([queues = &deps_.queues, clock = &deps_.clock, arn,
                           receipts = std::move(receipts)](storage::Connection& c) -> storage::DbWorker::Done {
    if (services::sqs::Queue* q = queues->find_by_arn(arn))
      if (auto r = queues->release(c, *q, receipts, clock->now_ms()); !r)
        spdlog::warn("sqs: release failed: {}", services::sqs::kind_name(r.error().kind));
    return nullptr;
  }, nullptr);
}

void SqsPoller::retry_later() {
  retry_timer_.expires_after(kRetryDelay);
  retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->maybe_receive();
  });
}

void SqsPoller::check_stopped() {
  if (stopping_ && in_flight_ == 0 && !receiving_ && on_stopped_) {
    auto cb = std::move(on_stopped_);
    on_stopped_ = nullptr;
    cb();
  }
}

}  // namespace esm::pollers
