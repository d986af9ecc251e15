#include "pollers/sqs_poller.h"

#include <spdlog/spdlog.h>

#include <set>

#include "core/arn.h"
#include "pollers/sqs_event.h"
#include "services/sqs/rules.h"

namespace esm::pollers {
namespace {

// How long one idle long poll lasts before the poller renews it.
constexpr std::int64_t kLongPollMs = 20000;
constexpr std::int64_t kRetryDelayMs = 1000;

}  // namespace

void register_sqs_poller(PollerRegistry& registry, sqs::QueueEngine& queues) {
  registry.add(SourceKind::kSqs, [&queues](const PollerDeps& deps, const Mapping& m) -> std::shared_ptr<Poller> {
    return std::make_shared<SqsPoller>(deps, queues, m);
  });
}

SqsPoller::SqsPoller(PollerDeps deps, sqs::QueueEngine& queues, Mapping mapping)
    : PollerBase(deps, std::move(mapping)), queues_(queues) {}

void SqsPoller::on_start() { maybe_receive(); }

void SqsPoller::on_stop() {
  ++generation_;
  if (retry_timer_) retry_timer_->cancel();
  drop_unsent();
  cancel_long_poll();
}

int SqsPoller::concurrency() const {
  int n = config().maximum_concurrency.value_or(deps().default_concurrency);
  if (auto ref = parse_function_ref(config().function_arn)) {
    if (auto f = deps().functions.find(ref->name); f && f->target.starts_with("http://"))
      n = std::min(n, std::max(1, f->concurrency));
  }
  return std::max(1, n);
}

void SqsPoller::on_config(const Mapping&, bool was_polling) {
  if (was_polling && !should_poll()) {
    ++generation_;
    drop_unsent();
    spdlog::info("mapping {}: poller paused ({})", config().uuid, to_string(config().state));
    cancel_long_poll();
  } else if (!was_polling && should_poll()) {
    spdlog::info("mapping {}: poller running", config().uuid);
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
  if (!should_poll() || receiving_ || !ready_.empty() || in_flight() >= concurrency()) return;
  receiving_ = true;
  sqs::ReceiveOptions opt;
  opt.max_messages = std::max(1, config().batch_size - static_cast<int>(pending_.messages.size()));
  opt.wait_ms = pending_.messages.empty() ? kLongPollMs : std::max<std::int64_t>(0, deadline_ms_ - now_ms());
  opt.owner = config().uuid;
  int fn_timeout_s = 3;
  if (auto ref = parse_function_ref(config().function_arn))
    if (auto f = deps().functions.find(ref->name)) fn_timeout_s = (f->timeout_ms + 999) / 1000;
  receive_job(opt, config().batching_window_s.value_or(0), fn_timeout_s);
}

void SqsPoller::receive_job(sqs::ReceiveOptions opt, int window_s, int fn_timeout_s) {
  const std::uint64_t gen = generation_;
  // The job and the long poll hold the poller weakly: one the DbWorker or the queue engine drops
  // at shutdown must not be its last owner.
  auto deliver = [weak = weak_self<SqsPoller>(), gen](sqs::ReceiveResult got) {
    auto poller = weak.lock();
    if (!poller) return;  // gone: the messages return after their visibility timeout
    poller->post([poller, gen, got = std::move(got)]() mutable { poller->on_received(gen, std::move(got)); });
  };
  deps().db.submit_relaxed(
      [weak = weak_self<SqsPoller>(), arn = config().event_source_arn, opt, window_s, fn_timeout_s,
       deliver](storage::Connection& c) mutable -> storage::DbWorker::Done {
        auto self = weak.lock();
        if (!self) return nullptr;
        sqs::Queue* q = self->queues_.find_by_arn(arn);
        if (!q) {
          return [deliver](const Status& commit) {
            deliver(commit.is_ok() ? sqs::Error{sqs::ErrorKind::kNonExistentQueue}
                               : sqs::Error::internal(commit));
          };
        }
        // With a window the messages must outlive the wait plus the invocation (§2.2).
        if (window_s > 0 && window_s + fn_timeout_s > q->visibility_timeout_s)
          opt.visibility_timeout_s = window_s + fn_timeout_s + 30;
        self->queues_.receive(c, *q, opt, self->now_ms(), deliver);
        return nullptr;
      },
      [deliver](const Status& s) { deliver(sqs::Error::internal(s)); });
}

void SqsPoller::on_received(std::uint64_t generation, sqs::ReceiveResult got) {
  receiving_ = false;
  if (!got) {
    spdlog::debug("mapping {}: receive failed: {}", config().uuid, sqs::kind_name(got.error().kind));
    retry_later();
    check_stopped();
    return;
  }
  if (generation != generation_ || !should_poll()) {
    std::vector<std::string> receipts;
    for (auto& r : *got) receipts.push_back(r.receipt_handle);
    if (!receipts.empty()) release(std::move(receipts));
    check_stopped();
    return;
  }
  const SqsRecordFrame frame = sqs_record_frame(config().event_source_arn, source_region_of(config()),
                                                config().batching_window_s.value_or(0) >= 1);
  std::vector<std::string> filtered_out;
  for (auto& r : *got) {
    sqs::fill_digests(r.message);
    std::string record = sqs_record_json(r.message, r.receipt_handle, frame);
    if (sqs_record_passes(filter(), record, r.message.body)) {
      add_to_batch(std::move(r), std::move(record));
    } else {
      filtered_out.push_back(std::move(r.receipt_handle));
    }
  }
  if (!filtered_out.empty()) {
    spdlog::debug("mapping {}: {} messages match no filter; deleting them", config().uuid, filtered_out.size());
    delete_messages(std::move(filtered_out));
  }
  const int window = config().batching_window_s.value_or(0);
  if (!pending_.messages.empty() && (static_cast<int>(pending_.messages.size()) >= config().batch_size ||
                                     window == 0 || now_ms() >= deadline_ms_))
    seal();
  flush();
  maybe_receive();
}

void SqsPoller::add_to_batch(sqs::Received r, std::string record) {
  // The message that would take the event past 6 MB opens the next batch.
  if (!pending_.messages.empty() &&
      sqs_event_size(pending_.messages.size() + 1, pending_.record_bytes + record.size()) > kMaxEventBytes)
    seal();
  if (pending_.messages.empty()) deadline_ms_ = now_ms() + config().batching_window_s.value_or(0) * 1000LL;
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
  while (should_poll() && !ready_.empty() && in_flight() < concurrency() && groups_free(ready_.front())) {
    Batch b = std::move(ready_.front());
    ready_.pop_front();
    dispatch(std::move(b));
  }
}

void SqsPoller::dispatch(Batch batch) {
  for (const auto& r : batch.messages)
    if (!r.message.group_id.empty()) ++groups_in_flight_[r.message.group_id];
  std::string event = sqs_event_json(batch.records);
  batch.records.clear();
  const bool report = config().report_batch_item_failures.value_or(false);
  spdlog::debug("mapping {}: invoking {} with {} messages", config().uuid, config().function_arn,
                batch.messages.size());
  invoke(std::move(event), [this, batch = std::move(batch), report](InvokeOutcome outcome) mutable {
    on_invoked(std::move(batch), report, std::move(outcome));
  });
}

void SqsPoller::on_invoked(Batch batch, bool report_failures, InvokeOutcome outcome) {
  std::set<std::string> ids;
  for (const auto& r : batch.messages) ids.insert(r.message.message_id);
  const BatchVerdict verdict = judge_batch(outcome, report_failures, ids);
  std::vector<std::string> to_delete;
  if (!verdict.complete_failure)
    for (const auto& r : batch.messages)
      if (!verdict.failed.count(r.message.message_id)) to_delete.push_back(r.receipt_handle);
  if (verdict.complete_failure)
    spdlog::debug("mapping {}: batch of {} failed ({}); messages return after the visibility timeout", config().uuid,
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
}

void SqsPoller::delete_messages(std::vector<std::string> receipts) {
  deps().db.submit_relaxed(
      [queues = &queues_, uuid = config().uuid, arn = config().event_source_arn,
       receipts = std::move(receipts)](storage::Connection& c) -> storage::DbWorker::Done {
        sqs::Queue* q = queues->find_by_arn(arn);
        if (!q) return nullptr;
        // A message whose receipt went stale (visibility expired, queue purged) comes again.
        auto r = queues->delete_messages(c, *q, receipts);
        if (!r)
          spdlog::warn("mapping {}: messages not deleted: {}", uuid, sqs::kind_name(r.error().kind));
        else if (*r > 0)
          spdlog::debug("mapping {}: {} messages not deleted (their receipts went stale)", uuid, *r);
        return nullptr;
      },
      nullptr);
}

void SqsPoller::release(std::vector<std::string> receipts) {
  deps().db.submit_relaxed(
      [queues = &queues_, clock = &deps().scheduler, arn = config().event_source_arn,
       receipts = std::move(receipts)](storage::Connection& c) -> storage::DbWorker::Done {
        if (sqs::Queue* q = queues->find_by_arn(arn))
          if (auto r = queues->release(c, *q, receipts, clock->now_ms()); !r)
            spdlog::warn("sqs: release failed: {}", sqs::kind_name(r.error().kind));
        return nullptr;
      },
      nullptr);
}

void SqsPoller::cancel_long_poll() {
  deps().db.submit_relaxed(
      [queues = &queues_, owner = config().uuid](storage::Connection&) -> storage::DbWorker::Done {
        queues->cancel_waiters(owner);
        return nullptr;
      },
      nullptr);
}

void SqsPoller::retry_later() {
  retry_timer_ = run_at(now_ms() + kRetryDelayMs, [this] { maybe_receive(); });
}

}  // namespace esm::pollers
