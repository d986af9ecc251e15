#include "pollers/kafka_poller.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/uuid.h"
#include "pollers/failure_destination.h"
#include "storage/mapping_store.h"

namespace esm::pollers {
namespace {

constexpr std::size_t kMaxEventBytes = 6 * 1024 * 1024;
constexpr const char* kResultOk = "OK";
constexpr const char* kResultProblem = "PROBLEM: Function call failed";
// Infinite retries together with an OnFailure destination stop after 10 (kafka.md B.5).
constexpr int kCappedRetries = 10;
constexpr std::int64_t kRedeliverMs = 1000;
constexpr std::int64_t kCloseStepMs = 20;

// A timer's function holds the poller until it runs: a handle kept after cancel() would keep
// the poller alive through its own member.
void drop(Scheduler::TimerHandle& t) {
  if (!t) return;
  t->cancel();
  t.reset();
}

}  // namespace

KafkaPoller::KafkaPoller(PollerDeps deps, KafkaConsumerFactory factory, KafkaResolver resolve, Mapping mapping)
    : PollerBase(std::move(deps), std::move(mapping)), factory_(std::move(factory)), resolve_(std::move(resolve)) {
  last_result_ = config().last_processing_result.value_or("");
}

void KafkaPoller::on_start() {
  if (should_poll()) open_consumer();
}

void KafkaPoller::on_config(const Mapping&, bool was_polling) {
  if (!was_polling && should_poll()) {
    open_consumer();
  } else if (was_polling && !should_poll()) {
    close_consumer();
  } else if (consuming_) {
    drive();  // BatchSize or the window may have changed
  }
}

void KafkaPoller::on_stop() { close_consumer(); }

std::int64_t KafkaPoller::window_ms() const {
  return config().batching_window_s ? std::int64_t{*config().batching_window_s} * 1000 : kDefaultWindowMs;
}

void KafkaPoller::open_consumer() {
  assert_on_strand();
  if (consuming_) return;
  const Mapping& m = config();
  const KafkaCluster cluster = resolve_(m);
  source_ = KafkaEventSource{m.kind == SourceKind::kMsk, m.event_source_arn, cluster.bootstrap};
  base_size_ = kafka_event_base_size(source_);
  if (m.topics.empty() || cluster.bootstrap.empty()) {
    spdlog::warn("mapping {}: no topic or no brokers to read (is esmd's Kafka broker off?)", m.uuid);
    set_result("PROBLEM: Connection error. Please check your event source connection configuration.");
    return;
  }
  KafkaConsumerConfig cc;
  cc.bootstrap = cluster.bootstrap;
  cc.group_id = cluster.group_id.empty() ? m.uuid : cluster.group_id;
  cc.topic = m.topics.front();
  cc.starting_position = m.starting_position.value_or("TRIM_HORIZON");
  cc.start_timestamp_ms = static_cast<std::int64_t>(m.starting_position_ts.value_or(0) * 1000);
  cc.client_id = "esmd-" + m.uuid;
  consumer_ = factory_(cc);
  wake_posted_ = std::make_shared<std::atomic<bool>>(false);
  auto wake = [weak = weak_self<KafkaPoller>(), posted = wake_posted_] {
    if (posted->exchange(true)) return;
    if (auto self = weak.lock()) self->post([self, posted] {
      posted->store(false);
      self->on_wake();
    });
  };
  if (auto refused = consumer_->open(std::move(wake))) {
    spdlog::warn("mapping {}: the Kafka consumer was refused: {}", m.uuid, *refused);
    set_result("PROBLEM: Connection error. Please check your event source connection configuration.");
    consumer_.reset();
    return;
  }
  consuming_ = true;
  spdlog::info("mapping {}: reading Kafka topic {} from {} in group {}", m.uuid, cc.topic, cc.bootstrap, cc.group_id);
  on_wake();
}

void KafkaPoller::close_consumer() {
  assert_on_strand();
  consuming_ = false;
  drop(window_timer_);
  // Read and not sent: read again from the committed offsets.
  pending_.clear();
  pending_matched_ = pending_bytes_ = 0;
  if (active_ && !active_->in_flight) {
    drop(active_->timer);
    active_.reset();
  }
  if (active_ || !consumer_) return;  // the batch in flight commits first
  closing_consumer_ = std::move(consumer_);
  step_close();
}

// Drives the closing consumer: it leaves the group in the background, woken like a reading one;
// a timer looks again in case no wake-up comes.
void KafkaPoller::step_close() {
  assert_on_strand();
  drop(close_timer_);
  if (!closing_consumer_) return;
  if (!closing_consumer_->close_step()) {
    closing_ = true;
    // Held weakly: at shutdown a cluster that never answers must not keep the poller alive; the
    // consumer is then destroyed without its close (RdKafkaConsumer's destructor).
    close_timer_ = deps().scheduler.run_at(now_ms() + kCloseStepMs, [weak = weak_self<KafkaPoller>()] {
      if (auto self = weak.lock()) self->post([self] { self->step_close(); });
    });
    return;
  }
  closing_consumer_.reset();
  closing_ = false;
  check_stopped();
}

int KafkaPoller::partition_index(const std::string& topic, int partition) {
  for (std::size_t i = 0; i < partitions_.size(); ++i)
    if (partitions_[i].partition == partition && partitions_[i].topic == topic) return static_cast<int>(i);
  partitions_.push_back(PartitionName{topic, partition, kafka_partition_key(topic, partition)});
  return static_cast<int>(partitions_.size() - 1);
}

void KafkaPoller::on_wake() {
  assert_on_strand();
  if (closing_consumer_) step_close();
  take();
  drive();
}

// Takes what the consumer has while the next batch has room.
void KafkaPoller::take() {
  if (!consuming_ || !consumer_) return;
  const std::size_t batch_size = static_cast<std::size_t>(std::max(1, config().batch_size));
  while (pending_matched_ < batch_size && pending_bytes_ < kMaxEventBytes) {
    const std::size_t want = batch_size - pending_matched_;
    KafkaPoll got = consumer_->poll(want);
    if (!got.revoked.empty()) drop_partitions(got.revoked);
    if (got.problem) {
      if (last_result_ != *got.problem) spdlog::warn("mapping {}: {}", config().uuid, *got.problem);
      set_result(*got.problem);
    }
    for (auto& m : got.messages) {
      Entry e;
      e.partition_index = partition_index(m.topic, m.partition);
      e.offset = m.offset;
      e.timestamp_ms = m.timestamp_ms;
      e.matched = kafka_record_passes(filter(), m);
      if (e.matched) {
        e.json = kafka_record_json(m);
        e.key = std::move(m.key);
        if (base_size_ + kafka_partition_overhead(partitions_[e.partition_index].key) +
                e.json.size() >
            kMaxEventBytes) {
          // No event can carry it: skipped, and committed with the records around it
          // (data-plane.md §4, "payload too large").
          spdlog::warn("mapping {}: Kafka record {}-{} at offset {} is over the 6 MB event limit and is skipped",
                       config().uuid, m.topic, m.partition, m.offset);
          set_result(kResultProblem);
          e.matched = false;
          e.json.clear();
          e.key.reset();
        }
      }
      if (e.matched) {
        if (pending_matched_ == 0) window_end_ms_ = now_ms() + window_ms();
        ++pending_matched_;
        pending_bytes_ += e.json.size();
      }
      pending_.push_back(std::move(e));
    }
    if (got.messages.size() < want) break;
  }
}

void KafkaPoller::drop_partitions(const std::vector<std::pair<std::string, int>>& revoked) {
  std::vector<int> gone;
  for (const auto& [topic, partition] : revoked) gone.push_back(partition_index(topic, partition));
  std::deque<Entry> kept;
  for (auto& e : pending_) {
    if (std::find(gone.begin(), gone.end(), e.partition_index) != gone.end()) {
      if (e.matched) {
        --pending_matched_;
        pending_bytes_ -= e.json.size();
      }
      continue;
    }
    kept.push_back(std::move(e));
  }
  pending_ = std::move(kept);
}

// Starts the next batch when one is due and none is in flight.
void KafkaPoller::drive() {
  assert_on_strand();
  if (!consuming_ || active_) return;
  if (pending_matched_ == 0) {
    commit_unmatched();
    return;
  }
  const std::size_t batch_size = static_cast<std::size_t>(std::max(1, config().batch_size));
  const bool due = pending_matched_ >= batch_size || pending_bytes_ >= kMaxEventBytes || now_ms() >= window_end_ms_;
  if (!due) {
    drop(window_timer_);
    window_timer_ = run_at(window_end_ms_, [this] { drive(); });
    return;
  }
  drop(window_timer_);
  active_ = form_batch();
  run_batch();
}

// Takes the pending records of the next batch: up to BatchSize matching ones within the event
// cap, with the records that did not match read among and just after them.
KafkaPoller::Batch KafkaPoller::form_batch() {
  const std::size_t batch_size = static_cast<std::size_t>(std::max(1, config().batch_size));
  std::vector<std::vector<Entry>> by_partition(partitions_.size());
  std::vector<int> order;  // partitions in the order their first matching record was read
  std::vector<std::int64_t> read_end(partitions_.size(), -1);
  std::size_t size = base_size_, taken = 0;
  while (!pending_.empty()) {
    Entry& e = pending_.front();
    if (e.matched) {
      if (taken == batch_size) break;
      const auto pi = static_cast<std::size_t>(e.partition_index);
      std::size_t add = e.json.size() + 1;
      if (by_partition[pi].empty()) add += kafka_partition_overhead(partitions_[pi].key);
      if (taken > 0 && size + add > kMaxEventBytes) break;
      size += add;
      if (by_partition[pi].empty()) order.push_back(e.partition_index);
      ++taken;
      --pending_matched_;
      pending_bytes_ -= e.json.size();
      by_partition[pi].push_back(std::move(e));
    }
    read_end[static_cast<std::size_t>(pending_.front().partition_index)] = pending_.front().offset + 1;
    pending_.pop_front();
  }
  if (pending_matched_ > 0) window_end_ms_ = now_ms() + window_ms();
  Batch b;
  std::vector<std::int64_t> times;
  for (int pi : order)
    for (auto& e : by_partition[static_cast<std::size_t>(pi)]) {
      b.ids.push_back(KafkaItemId{partitions_[static_cast<std::size_t>(pi)].key, e.offset});
      times.push_back(e.timestamp_ms);
      b.records.push_back(std::move(e));
    }
  for (std::size_t i = 0; i < read_end.size(); ++i)
    if (read_end[i] >= 0) b.read_end.emplace_back(static_cast<int>(i), read_end[i]);
  const Mapping& m = config();
  RetryConfig rc;
  rc.max_retry_attempts = m.maximum_retry_attempts.value_or(-1);
  if (rc.max_retry_attempts < 0 && m.destinations && m.destinations->on_failure) rc.max_retry_attempts = kCappedRetries;
  rc.max_record_age_s = m.maximum_record_age_s.value_or(-1);
  rc.bisect = m.bisect_on_error.value_or(false);
  b.run.emplace(std::move(times), rc);
  b.id = ++batches_;
  return b;
}

void KafkaPoller::run_batch() {
  assert_on_strand();
  Batch& b = *active_;
  Step step = b.run->next(now_ms());
  for (const GiveUp& g : step.given_up) give_up(g);
  commit_done(step.kind == Step::Kind::kDone);
  if (step.kind == Step::Kind::kDone && !b.holds.empty() && consuming_) return;  // the deliveries resume it
  if (!consuming_ || step.kind == Step::Kind::kDone) {
    // Done, or polling stopped: what is not done is read again from the committed offsets.
    drop(b.timer);
    active_.reset();
    if (!consuming_) {
      close_consumer();
      return;
    }
    take();
    drive();
    return;
  }
  if (step.kind == Step::Kind::kWait) {
    b.timer = run_at(step.wait_until_ms, [this] {
      if (active_ && !active_->in_flight) run_batch();
    });
    return;
  }
  std::vector<KafkaPartitionRecords> parts;
  for (std::size_t i = step.begin; i < step.end; ++i) {
    const std::string& key = partitions_[static_cast<std::size_t>(b.records[i].partition_index)].key;
    if (parts.empty() || parts.back().key != key) parts.push_back(KafkaPartitionRecords{key, {}});
    parts.back().records.push_back(b.records[i].json);
  }
  b.in_flight = true;
  b.invoked_begin = step.begin;
  b.invoked_end = step.end;
  invoke(kafka_event_json(source_, parts), [this](InvokeOutcome outcome) { on_invoked(std::move(outcome)); });
}

void KafkaPoller::on_invoked(InvokeOutcome outcome) {
  assert_on_strand();
  if (!active_) return;
  Batch& b = *active_;
  b.in_flight = false;
  const std::size_t begin = b.invoked_begin, end = b.invoked_end;
  const Judgement j = judge_kafka_batch(outcome, config().report_batch_item_failures.value_or(false), b.ids, begin,
                                        end);
  if (j.verdict != Verdict::kSuccess)
    spdlog::debug("mapping {}: Kafka batch of {} records failed ({})", config().uuid, end - begin,
                  outcome.detail.empty() ? outcome.function_error : outcome.detail);
  set_result(j.verdict == Verdict::kSuccess ? kResultOk : kResultProblem);
  b.last = std::move(outcome);
  if (auto g = b.run->on_result(j, now_ms())) give_up(*g);
  run_batch();
}

// Commits each partition's progress: the first record of the batch not done, or, once the
// whole batch is done (all), past every record read with it.
void KafkaPoller::commit_done(bool all) {
  Batch& b = *active_;
  std::size_t done = all ? b.records.size() : b.run->done();
  if (!b.holds.empty()) {
    done = std::min(done, b.holds.begin()->first);
    all = false;
  }
  if (!consumer_ || (done <= b.committed && !all)) return;
  std::vector<KafkaOffset> offsets;
  for (const auto& [pi, end] : b.read_end) {
    std::int64_t next = end;
    for (std::size_t i = done; i < b.records.size(); ++i)
      if (b.records[i].partition_index == pi) {
        next = b.records[i].offset;
        break;
      }
    const PartitionName& p = partitions_[static_cast<std::size_t>(pi)];
    offsets.push_back(KafkaOffset{p.topic, p.partition, next});
  }
  b.committed = done;
  consumer_->commit(offsets);
}

void KafkaPoller::give_up(const GiveUp& g) {
  Batch& b = *active_;
  const char* why = g.condition == Condition::kRecordAgeExceeded ? "RecordAgeExceeded" : "RetryAttemptsExhausted";
  spdlog::info("mapping {}: {} Kafka records given up ({}, {} invocations)", config().uuid, g.end - g.begin, why,
               g.approximate_invoke_count);
  const std::string destination =
      config().destinations && config().destinations->on_failure ? *config().destinations->on_failure : "";
  if (destination.empty() || g.begin >= g.end) return;
  KafkaFailure f;
  const InvokeOutcome* last = b.last ? &*b.last : nullptr;
  f.request_id = last && !last->request_id.empty() ? last->request_id : new_uuid();
  f.function_arn = config().function_arn;
  f.condition = g.condition;
  f.approximate_invoke_count = g.approximate_invoke_count;
  if (g.condition == Condition::kRetryAttemptsExhausted && last) {
    FailureResponse r;
    r.status_code = last->http_status > 0 ? last->http_status : 200;
    r.executed_version = last->executed_version.empty() ? "$LATEST" : last->executed_version;
    if (last->status == InvokeStatus::kFunctionError)
      r.function_error = last->function_error.empty() ? std::string("Unhandled") : last->function_error;
    f.response = std::move(r);
  }
  f.timestamp_ms = now_ms();
  for (std::size_t i = g.begin; i < g.end; ++i) {
    const Entry& e = b.records[i];
    f.records.push_back(KafkaFailedRecord{partitions_[static_cast<std::size_t>(e.partition_index)].key, e.offset,
                                          e.timestamp_ms, e.json});
  }
  if (destination.starts_with("kafka://")) {
    b.holds[g.begin] += static_cast<int>(f.records.size());
    for (std::size_t i = 0; i < f.records.size(); ++i)
      deliver_failure(b.id, g.begin, destination, g.begin + i, kafka_topic_failure_json(source_, f, i), {});
    return;
  }
  b.holds[g.begin] += 1;
  const bool s3 = destination.starts_with("arn:aws:s3:");
  deliver_failure(b.id, g.begin, destination, g.begin, kafka_failure_record_json(source_, f, false),
                  s3 ? kafka_failure_record_json(source_, f, true) : std::string());
}

// Sends one failure record; index: the batch record a kafka:// message carries.
void KafkaPoller::deliver_failure(std::uint64_t batch, std::size_t begin, std::string destination, std::size_t index,
                                  std::string record, std::string object) {
  assert_on_strand();
  if (!active_ || active_->id != batch) return;
  auto weak = weak_self<KafkaPoller>();
  if (destination.starts_with("kafka://")) {
    if (!consumer_) return;
    const std::string topic = destination.substr(8);
    consumer_->send(topic, active_->records[index].key, record,
                    [weak, batch, begin, destination, index, record](const std::string& error) {
                      if (auto self = weak.lock())
                        self->post([self, batch, begin, destination, index, record, error] {
                          self->on_failure_delivered(batch, begin, destination, index, record, {}, error);
                        });
                    });
    return;
  }
  if (!deps().failures) return on_failure_delivered(batch, begin, destination, index, {}, {}, "");
  const std::string partition = partitions_[static_cast<std::size_t>(active_->records[index].partition_index)].key;
  deps().failures->deliver(
      FailureReport{destination, config().uuid, partition, record, object},
      [weak, batch, begin, destination, index, record, object](const Status& delivered) {
        if (auto self = weak.lock())
          self->post([self, batch, begin, destination, index, record, object, error = delivered.is_ok() ? std::string()
                                                                                               : delivered.message()] {
            self->on_failure_delivered(batch, begin, destination, index, record, object, error);
          });
      });
}

void KafkaPoller::on_failure_delivered(std::uint64_t batch, std::size_t begin, std::string destination,
                                       std::size_t index, std::string record, std::string object, std::string error) {
  assert_on_strand();
  if (!active_ || active_->id != batch) return;  // dropped meanwhile: its records come again
  if (!error.empty()) {
    spdlog::warn("mapping {}: failure record not delivered to {} ({}); again in {} ms", config().uuid, destination,
                 error, kRedeliverMs);
    run_at(now_ms() + kRedeliverMs, [this, batch, begin, destination, index, record, object] {
      deliver_failure(batch, begin, destination, index, record, object);
    });
    return;
  }
  Batch& b = *active_;
  if (auto it = b.holds.find(begin); it != b.holds.end() && --it->second == 0) b.holds.erase(it);
  if (b.holds.empty() && !b.in_flight) run_batch();
}

// No batch holds a matching record: the records that matched no filter are committed at once.
void KafkaPoller::commit_unmatched() {
  if (pending_.empty() || !consumer_) return;
  std::vector<std::int64_t> next(partitions_.size(), -1);
  for (const Entry& e : pending_) next[static_cast<std::size_t>(e.partition_index)] = e.offset + 1;
  pending_.clear();
  std::vector<KafkaOffset> offsets;
  for (std::size_t i = 0; i < next.size(); ++i)
    if (next[i] >= 0) offsets.push_back(KafkaOffset{partitions_[i].topic, partitions_[i].partition, next[i]});
  consumer_->commit(offsets);
}

void KafkaPoller::set_result(const std::string& result) {
  if (last_result_ == result) return;
  last_result_ = result;
  deps().db.submit_relaxed([uuid = config().uuid, result](storage::Connection& c) -> storage::DbWorker::Done {
    if (Status s = storage::set_last_processing_result(c, uuid, result); !s.is_ok())
      spdlog::warn("mapping {}: LastProcessingResult not saved: {}", uuid, s.message());
    return nullptr;
  }, nullptr);
}

void register_kafka_poller(PollerRegistry& registry, KafkaResolver resolve, KafkaConsumerFactory factory) {
  auto maker = [resolve = std::move(resolve), factory = std::move(factory)](const PollerDeps& deps,
                                                                          const Mapping& m) -> std::shared_ptr<Poller> {
    return std::make_shared<KafkaPoller>(deps, factory, resolve, m);
  };
  registry.add(SourceKind::kMsk, maker);
  registry.add(SourceKind::kSelfManagedKafka, maker);
}

}  // namespace esm::pollers
