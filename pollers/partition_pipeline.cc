#include "pollers/partition_pipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "core/uuid.h"
#include "pollers/kinesis_event.h"
#include "pollers/sqs_event.h"  // kMaxEventBytes, the invoke payload cap
#include "storage/checkpoint_store.h"
#include "storage/mapping_store.h"

namespace esm::pollers {
namespace {

// Read-ahead per partition: records read and not finished, at most.
constexpr std::size_t kMinBuffered = 500;
constexpr std::size_t kMaxBuffered = 20000;
// Bytes of record data one read returns, about.
constexpr std::size_t kReadBytes = 16u * 1024 * 1024;
// Read-ahead per lane in bytes of event JSON, about: two full events, so the next batch is ready
// while one is in flight, without 20,000 large records held per partition.
constexpr std::size_t kBufferedBytesPerLane = 2 * kMaxEventBytes;
// How soon a pipeline tries again when the source is missing or the database refused.
constexpr std::int64_t kReopenDelayMs = 1000;

// Lambda's limit on a tumbling window's state, per shard (data-plane.md §3.8).
constexpr std::size_t kMaxWindowState = 1024 * 1024;

constexpr const char* kResultOk = "OK";
constexpr const char* kResultProblem = "PROBLEM: Function call failed";

bool same_processing(const Mapping& a, const Mapping& b) {
  return a.function_arn == b.function_arn && a.batch_size == b.batch_size &&
         a.batching_window_s == b.batching_window_s && a.parallelization_factor == b.parallelization_factor &&
         a.maximum_retry_attempts == b.maximum_retry_attempts && a.maximum_record_age_s == b.maximum_record_age_s &&
         a.bisect_on_error == b.bisect_on_error && a.tumbling_window_s == b.tumbling_window_s &&
         a.filter_patterns == b.filter_patterns && a.report_batch_item_failures == b.report_batch_item_failures &&
         a.destinations == b.destinations;
}

std::optional<std::string> window_doc(std::int64_t start_ms, const std::string& state_json) {
  return "{\"start\":" + std::to_string(start_ms) + ",\"state\":" + state_json + "}";
}

}  // namespace

PartitionPipeline::PartitionPipeline(PollerDeps deps, std::unique_ptr<PartitionSource> source, Mapping mapping)
    : PollerBase(deps, std::move(mapping)), source_(std::move(source)), owner_("partition-poller " + config().uuid) {
  last_result_ = config().last_processing_result.value_or("");
}

void PartitionPipeline::on_start() { open(); }

void PartitionPipeline::on_stop() {
  if (retry_timer_) retry_timer_->cancel();
  pause("stopped");
}

int PartitionPipeline::lane_count() const {
  if (config().tumbling_window_s.value_or(0) > 0) return 1;
  return std::clamp(config().parallelization_factor.value_or(1), 1, 10);
}

void PartitionPipeline::on_config(const Mapping& old, bool was_polling) {
  if (was_polling && !should_poll()) {
    drain("mapping not enabled");
  } else if (!same_processing(old, config()) && (running_ || opening_)) {
    // Lanes, windows and batches are built from the configuration: start again from the
    // checkpoints once the batches in flight have answered.
    drain("configuration changed");
  }
  open();
}

void PartitionPipeline::reopen_later() {
  retry_timer_ = run_at(now_ms() + kReopenDelayMs, [this] { open(); });
}

void PartitionPipeline::open() {
  if (!should_poll() || running_ || opening_ || draining_ || in_flight() > 0) return;
  opening_ = true;
  const std::uint64_t gen = generation_;
  auto retry = [weak = weak_self<PartitionPipeline>(), gen] {
    auto self = weak.lock();
    if (!self) return;
    boost::asio::post(self->strand(), [self, gen] {
      if (gen != self->generation_) return;
      self->opening_ = false;
      self->reopen_later();
    });
  };
  deps().db.submit_relaxed(
      [weak = weak_self<PartitionPipeline>(), source = source_, gen, m = config(),
       retry](storage::Connection& c) -> storage::DbWorker::Done {
        auto self = weak.lock();
        if (!self) return nullptr;
        auto opened = source->open(c, m);
        if (!opened) spdlog::warn("mapping {}: checkpoints not read: {}", m.uuid, opened.status().message());
        // Without the source or its checkpoints, try again a little later.
        if (!opened || !*opened) return [retry](const Status&) { retry(); };
        return [self, gen, inits = std::move(**opened), retry](const Status& commit) mutable {
          // The starting positions it saved must be on disk before reading from them.
          if (!commit.is_ok()) return retry();
          boost::asio::post(self->strand(), [self, gen, inits = std::move(inits)]() mutable {
            self->on_opened(gen, std::move(inits));
          });
        };
      },
      [uuid = config().uuid, retry](const Status& refused) {
        spdlog::warn("mapping {}: checkpoints not read: {}", uuid, refused.message());
        retry();
      });
}

void PartitionPipeline::on_opened(std::uint64_t gen, std::vector<PartitionInit> partitions) {
  assert_on_strand();
  if (gen != generation_) return;
  opening_ = false;
  if (!should_poll()) return;
  running_ = true;
  spdlog::info("mapping {}: poller running on {} partitions", config().uuid, partitions.size());
  const int lanes = lane_count();
  partitions_.clear();
  for (auto& init : partitions) {
    auto p = std::make_unique<PartitionState>();
    p->retention_s = init.retention_s;
    p->read_from = init.next;
    p->saved_position = init.next;
    p->saved_window = init.state;
    if (init.state && config().tumbling_window_s.value_or(0) > 0) {
      if (auto w = saved_window_of(*init.state)) {
        const bool too_big = w->state_json.size() > kMaxWindowState;
        p->window = OpenWindow{w->start_ms, std::move(w->state_json), too_big};
      }
    }
    p->init = std::move(init);
    for (int i = 0; i < lanes; ++i) {
      p->lanes.push_back(std::make_unique<Lane>());
      p->lanes.back()->index = i;
    }
    partitions_.push_back(std::move(p));
  }
  for (auto& p : partitions_) {
    read(*p);
    for (auto& lane : p->lanes) drive(*p, *lane);
  }
}

void PartitionPipeline::drain(const char* why) {
  if (!running_) {
    pause(why);
    return;
  }
  if (draining_) return;
  draining_ = true;
  drain_reason_ = why;
  for (auto& p : partitions_)
    for (auto& lane : p->lanes) {
      if (lane->timer) lane->timer->cancel();
      lane->timer_at_ms = 0;
    }
  finish_drain();
}

void PartitionPipeline::finish_drain() {
  if (!draining_ || in_flight() > 0) return;
  pause(drain_reason_.c_str());
  open();
}

void PartitionPipeline::pause(const char* why) {
  draining_ = false;
  if (!running_ && !opening_) return;
  // A position newer than the last one handed to SQLite, held back while an earlier save was
  // in flight, would be lost: that save's completion is dropped once the generation moves.
  // The DbWorker runs jobs in order, so these land before the reopen job reads them.
  for (auto& p : partitions_) flush_checkpoint(*p);
  ++generation_;
  running_ = false;
  opening_ = false;
  for (auto& p : partitions_)
    for (auto& lane : p->lanes)
      if (lane->timer) lane->timer->cancel();
  partitions_.clear();
  spdlog::info("mapping {}: poller paused ({})", config().uuid, why);
  deps().db.submit_relaxed([source = source_, owner = owner_](storage::Connection&) -> storage::DbWorker::Done {
    source->cancel_waits(owner);
    return nullptr;
  }, nullptr);
}

PartitionPipeline::PartitionState* PartitionPipeline::partition(std::uint64_t gen, int index) {
  if (gen != generation_ || !running_) return nullptr;
  for (auto& p : partitions_)
    if (p->init.index == index) return p.get();
  return nullptr;
}

void PartitionPipeline::read(PartitionState& p) {
  if (!running_ || draining_ || p.reading) return;
  const std::size_t cap =
      std::clamp<std::size_t>(2 * static_cast<std::size_t>(config().batch_size) * p.lanes.size(), kMinBuffered,
                              kMaxBuffered);
  if (p.unfinished.size() >= cap) return;
  const std::size_t byte_cap = kBufferedBytesPerLane * p.lanes.size();
  if (p.buffered_bytes >= byte_cap) return;
  p.reading = true;
  const int max_records = static_cast<int>(std::min<std::size_t>(10000, cap - p.unfinished.size()));
  // The read counts raw data; a record's event JSON is its data in base64 (4/3) plus fields.
  const std::size_t max_bytes = std::min(kReadBytes, (byte_cap - p.buffered_bytes) / 4 * 3);
  const std::uint64_t gen = generation_;
  deps().db.submit_relaxed(
      [weak = weak_self<PartitionPipeline>(), source = source_, gen, init = p.init, from = p.read_from, max_records,
       max_bytes, owner = owner_](storage::Connection&) -> storage::DbWorker::Done {
        auto self = weak.lock();
        if (!self) return nullptr;
        PartitionRead r = source->read(init, from, max_records, max_bytes, self->now_ms());
        if (!r.gone && r.records.empty()) {
          // The waiter holds the pipeline weakly: a source that outlives it drops it unused.
          source->wait(init, r.next, owner, [weak, gen, index = init.index] {
            auto pipeline = weak.lock();
            if (!pipeline) return;
            boost::asio::post(pipeline->strand(), [self = pipeline, gen, index] {
              if (PartitionState* waiting = self->partition(gen, index)) {
                waiting->reading = false;
                self->read(*waiting);
              }
            });
          });
        }
        return [self, gen, index = init.index, r = std::move(r)](const Status&) mutable {
          boost::asio::post(self->strand(), [self, gen, index, r = std::move(r)]() mutable {
            self->on_read(gen, index, std::move(r));
          });
        };
      },
      [weak = weak_self<PartitionPipeline>(), gen](const Status& refused) {
        // Nothing was read: start over from the checkpoints once the database is back.
        auto self = weak.lock();
        if (!self) return;
        boost::asio::post(self->strand(), [self, gen, why = refused.message()] {
          if (gen != self->generation_ || !self->running_) return;
          spdlog::warn("mapping {}: partition read refused: {}", self->config().uuid, why);
          self->pause("database unavailable");
          self->reopen_later();
        });
      });
}

void PartitionPipeline::on_read(std::uint64_t gen, int index, PartitionRead r) {
  assert_on_strand();
  PartitionState* pp = partition(gen, index);
  if (!pp) return;
  PartitionState& p = *pp;
  if (r.gone) {
    // The source is gone (or deleted and recreated under the same name): start over (and
    // wait for it) from the checkpoints.
    pause("source not found");
    reopen_later();
    return;
  }
  p.retention_s = r.retention_s;
  p.read_from = std::max(p.read_from, r.next);
  p.caught_up = r.caught_up;
  // An empty read left a waiter behind, which clears `reading` when records come.
  if (!r.records.empty()) p.reading = false;
  const std::int64_t now = now_ms();
  const int lanes = static_cast<int>(p.lanes.size());
  for (auto& rec : r.records) {
    // Filtered and encoded here, before any batch: a record that matches no filter is never
    // queued, so it is skipped and checkpointed and never counts as a failure (§3.9).
    std::optional<std::string> json = source_->render(filter(), rec, p.init.id);
    if (!json) continue;
    Lane& lane = *p.lanes[static_cast<std::size_t>(lane_of(rec.key, lanes))];
    if (lane.queue.empty()) lane.queued_since_ms = now;
    p.unfinished.insert(rec.position);
    p.buffered_bytes += json->size();
    lane.queue.push_back(Record{std::move(rec), std::move(*json)});
  }
  save_checkpoint(p);
  for (auto& lane : p.lanes) drive(p, *lane);
  read(p);
}

void PartitionPipeline::drive(PartitionState& p, Lane& lane) {
  assert_on_strand();
  while (running_ && !draining_) {
    if (!lane.active && !form_batch(p, lane)) return;
    Active& a = *lane.active;
    if (a.in_flight) return;
    const std::int64_t now = now_ms();
    Step step = a.run.next(now);
    for (const auto& g : step.given_up) give_up(p, a, g);
    finish_records(p, a);
    switch (step.kind) {
      case Step::Kind::kInvoke:
        a.begin = step.begin;
        a.end = step.end;
        invoke(p, lane);
        return;
      case Step::Kind::kWait:
        arm(p, lane, step.wait_until_ms);
        return;
      case Step::Kind::kDone:
        if (a.final_invoke) p.window.reset();
        lane.active.reset();
        lane.last_completed_ms = now;
        save_checkpoint(p);
        read(p);
        break;
    }
  }
}

WindowView PartitionPipeline::window_view(const PartitionState& p, std::int64_t start_ms, bool final_invoke) const {
  const int tumbling = config().tumbling_window_s.value_or(0);
  return WindowView{start_ms, start_ms + tumbling * 1000LL, p.window ? p.window->state_json : std::string("{}"),
                    final_invoke, final_invoke && p.window && p.window->terminated_early};
}

bool PartitionPipeline::form_batch(PartitionState& p, Lane& lane) {
  const std::int64_t now = now_ms();
  const int tumbling = config().tumbling_window_s.value_or(0);
  std::size_t available = lane.queue.size();
  bool final_invoke = false;
  std::int64_t window_start = 0;
  if (tumbling > 0) {
    if (!p.window) {
      if (lane.queue.empty()) return false;
      p.window = OpenWindow{window_start_of(lane.queue.front().rec.arrival_ms, tumbling), "{}", false};
    }
    window_start = p.window->start_ms;
    const std::int64_t end = window_start + static_cast<std::int64_t>(tumbling) * 1000;
    available = 0;
    while (available < lane.queue.size() && lane.queue[available].rec.arrival_ms < end) ++available;
    const bool window_over = now >= end && (p.caught_up || available < lane.queue.size());
    if (p.window->terminated_early) {
      available = 0;
      final_invoke = true;
    } else if (available == 0) {
      if (!window_over) {
        if (now < end) arm(p, lane, end);
        return false;
      }
      final_invoke = true;
    } else {
      final_invoke = window_over && available <= static_cast<std::size_t>(config().batch_size);
    }
  }
  // Take up to BatchSize records within the 6 MB event cap.
  std::optional<WindowView> window;
  if (tumbling > 0) {
    window = window_view(p, window_start, final_invoke);
    window->terminated_early = p.window->terminated_early;
  }
  std::size_t take = 0;
  std::size_t bytes = 0;
  bool size_cut = false;
  while (take < available && take < static_cast<std::size_t>(config().batch_size)) {
    const std::size_t next = bytes + lane.queue[take].json.size();
    if (take > 0 && source_->event_size(take + 1, next, window ? &*window : nullptr, p.init.id) > kMaxEventBytes) {
      size_cut = true;
      break;
    }
    bytes = next;
    ++take;
  }
  if (size_cut) final_invoke = false;
  if (take == 0 && !final_invoke) return false;
  // The batching window holds an underfilled batch (one that more records could still join).
  const int window_s = config().batching_window_s.value_or(0);
  const bool more_possible = take == available && take < static_cast<std::size_t>(config().batch_size) &&
                             !size_cut && !final_invoke && (tumbling == 0 || available == lane.queue.size());
  if (window_s > 0 && more_possible && take > 0) {
    const std::int64_t deadline = std::max(lane.last_completed_ms, lane.queued_since_ms) + window_s * 1000LL;
    if (now < deadline) {
      arm(p, lane, deadline);
      return false;
    }
  }
  std::vector<Record> records;
  records.reserve(take);
  for (std::size_t i = 0; i < take; ++i) {
    records.push_back(std::move(lane.queue.front()));
    lane.queue.pop_front();
  }
  if (!lane.queue.empty()) lane.queued_since_ms = now;
  std::vector<std::int64_t> arrivals;
  std::vector<std::string> jsons;
  arrivals.reserve(take);
  jsons.reserve(take);
  for (auto& r : records) {
    arrivals.push_back(r.rec.arrival_ms);
    jsons.push_back(std::move(r.json));
  }
  // Records past the source's retention are trimmed and given up as RecordAgeExceeded, so with
  // the defaults (retry and age unlimited) a failing batch still ends (§3.2).
  RetryConfig rc{config().maximum_retry_attempts.value_or(-1), config().maximum_record_age_s.value_or(-1),
                 config().bisect_on_error.value_or(false), p.retention_s};
  lane.active.emplace(Active{std::move(records), std::move(jsons), {},
                             BatchRun(std::move(arrivals), rc, final_invoke), 0, 0, 0, false, final_invoke,
                             window_start, std::nullopt});
  // Views of the ids where they now stay: the batch's records are not moved again while it
  // is active (a copy of each 56-digit sequence number cost an allocation a record).
  Active& a = *lane.active;
  a.ids.reserve(a.records.size());
  for (const Record& r : a.records) a.ids.emplace_back(r.rec.id);
  return true;
}

void PartitionPipeline::invoke(PartitionState& p, Lane& lane) {
  Active& a = *lane.active;
  std::string event;
  if (config().tumbling_window_s.value_or(0) > 0) {
    const WindowView w = window_view(p, a.window_start_ms, a.final_invoke);
    event = source_->event_json(a.jsons, a.begin, a.end, &w, p.init.id);
  } else {
    event = source_->event_json(a.jsons, a.begin, a.end, nullptr, p.init.id);
  }
  a.in_flight = true;
  const std::uint64_t gen = generation_;
  const int index = p.init.index;
  const int lane_index = lane.index;
  PollerBase::invoke(std::move(event), [this, gen, index, lane_index](InvokeOutcome outcome) {
    on_invoked(gen, index, lane_index, std::move(outcome));
  });
}

void PartitionPipeline::on_invoked(std::uint64_t gen, int index, int lane_index, InvokeOutcome outcome) {
  assert_on_strand();
  PartitionState* pp = partition(gen, index);
  if (!pp || lane_index >= static_cast<int>(pp->lanes.size()) || !pp->lanes[lane_index]->active) {
    // The pipeline paused meanwhile: this batch was not checkpointed and comes again.
    open();
    return;
  }
  PartitionState& p = *pp;
  Lane& lane = *p.lanes[static_cast<std::size_t>(lane_index)];
  Active& a = *lane.active;
  a.in_flight = false;
  const std::int64_t now = now_ms();
  Judgement j =
      judge_stream_batch(outcome, config().report_batch_item_failures.value_or(false), a.ids, a.begin, a.end);
  if (config().tumbling_window_s.value_or(0) > 0 && (j.verdict == Verdict::kSuccess || j.verdict == Verdict::kPartial)) {
    // A window response without `state` counts as a failed invocation (§3.8).
    if (auto state = window_state_of(outcome.payload); state && p.window) {
      p.window->state_json = std::move(*state);
      if (p.window->state_json.size() > kMaxWindowState) p.window->terminated_early = true;
    } else {
      j = Judgement{Verdict::kFailure, 0};
    }
  }
  if (j.verdict != Verdict::kSuccess)
    spdlog::debug("mapping {}: {} batch of {} records failed ({})", config().uuid, p.init.id, a.end - a.begin,
                  outcome.detail.empty() ? outcome.function_error : outcome.detail);
  set_result(j.verdict == Verdict::kSuccess ? kResultOk : kResultProblem);
  a.last = std::move(outcome);
  if (auto g = a.run.on_result(j, now)) give_up(p, a, *g);
  finish_records(p, a);
  drive(p, lane);
  finish_drain();
}

void PartitionPipeline::finish_records(PartitionState& p, Active& a) {
  const std::size_t done = a.run.done();
  if (done <= a.finished) return;
  for (std::size_t i = a.finished; i < done; ++i) {
    p.unfinished.erase(a.records[i].rec.position);
    p.buffered_bytes -= std::min(p.buffered_bytes, a.jsons[i].size());
  }
  a.finished = done;
  save_checkpoint(p);
  read(p);
}

void PartitionPipeline::give_up(PartitionState& p, Active& a, const GiveUp& g) {
  if (g.begin >= g.end) return;  // a final window call without records: nothing to report
  spdlog::info("mapping {}: {} records of {} given up ({}, {} invocations)", config().uuid, g.end - g.begin,
               p.init.id, g.condition == Condition::kRecordAgeExceeded ? "RecordAgeExceeded" : "RetryAttemptsExhausted",
               g.approximate_invoke_count);
  const std::string destination =
      config().destinations && config().destinations->on_failure ? *config().destinations->on_failure : "";
  if (destination.empty() || !deps().failures) return;
  const FailedBatch batch{g,          a.last ? &*a.last : nullptr, config().function_arn, now_ms(), p.init.id,
                          a.records[g.begin].rec, a.records[g.end - 1].rec, a.jsons};
  std::string object;
  if (destination.starts_with("arn:aws:s3:")) object = source_->failure_object(batch);
  // The checkpoint stays below these records until the failure record is committed.
  std::vector<std::int64_t> held;
  for (std::size_t i = g.begin; i < g.end; ++i) held.push_back(a.records[i].rec.position);
  for (auto position : held) p.held.insert(position);
  const std::uint64_t gen = generation_;
  const int index = p.init.index;
  deps().failures->deliver(
      FailureReport{destination, config().uuid, p.init.id, source_->failure_record(batch), std::move(object)},
      [weak = weak_self<PartitionPipeline>(), gen, index, held = std::move(held)](const Status& delivered) {
        auto self = weak.lock();
        if (!self) return;
        boost::asio::post(self->strand(), [self, gen, index, held, ok = delivered.is_ok()] {
          self->on_failure_delivered(gen, index, held, ok);
        });
      });
}

void PartitionPipeline::on_failure_delivered(std::uint64_t gen, int index, const std::vector<std::int64_t>& held,
                                             bool ok) {
  PartitionState* p = partition(gen, index);
  if (!p) return;
  if (!ok) {
    // Not committed: the records come again from the checkpoint, which never passed them.
    pause("failure record not delivered");
    reopen_later();
    return;
  }
  for (auto position : held)
    if (auto it = p->held.find(position); it != p->held.end()) p->held.erase(it);
  save_checkpoint(*p);
}

void PartitionPipeline::set_result(const char* result) {
  if (last_result_ == result) return;
  last_result_ = result;
  deps().db.submit_relaxed([uuid = config().uuid, r = std::string(result)](storage::Connection& c) -> storage::DbWorker::Done {
    if (Status s = storage::set_last_processing_result(c, uuid, r); !s.is_ok())
      spdlog::warn("mapping {}: LastProcessingResult not saved: {}", uuid, s.message());
    return nullptr;
  }, nullptr);
}

std::optional<std::string> PartitionPipeline::window_json(const PartitionState& p) const {
  if (!p.window) return std::nullopt;
  return window_doc(p.window->start_ms, p.window->state_json);
}

std::int64_t PartitionPipeline::checkpoint_position(const PartitionState& p) {
  std::int64_t pos = p.unfinished.empty() ? p.read_from : p.unfinished.first();
  if (!p.held.empty()) pos = std::min(pos, *p.held.begin());
  return pos;
}

void PartitionPipeline::flush_checkpoint(PartitionState& p) {
  const std::int64_t pos = checkpoint_position(p);
  std::optional<std::string> wj = window_json(p);
  if (pos == p.saved_position && wj == p.saved_window) return;
  p.saved_position = pos;
  p.saved_window = wj;
  deps().db.submit_relaxed(
      [uuid = config().uuid, cp = storage::Checkpoint{p.init.id, source_->checkpoint_source(), pos, std::move(wj),
                                                      p.init.epoch}](storage::Connection& c) -> storage::DbWorker::Done {
        if (Status st = storage::save_checkpoint(c, uuid, cp); !st.is_ok())
          spdlog::warn("mapping {}: checkpoint not saved: {}", uuid, st.message());
        return nullptr;
      },
      [uuid = config().uuid](const Status& st) { spdlog::warn("mapping {}: checkpoint not saved: {}", uuid, st.message()); });
}

void PartitionPipeline::save_checkpoint(PartitionState& p) {
  const std::int64_t pos = checkpoint_position(p);
  std::optional<std::string> wj = window_json(p);
  if (p.saving || (pos == p.saved_position && wj == p.saved_window)) return;
  p.saving = true;
  p.saved_position = pos;
  p.saved_window = wj;
  const std::uint64_t gen = generation_;
  const int index = p.init.index;
  deps().db.submit_relaxed(
      [weak = weak_self<PartitionPipeline>(), gen, index, uuid = config().uuid,
       cp = storage::Checkpoint{p.init.id, source_->checkpoint_source(), pos, wj, p.init.epoch}](
          storage::Connection& c) -> storage::DbWorker::Done {
        if (Status st = storage::save_checkpoint(c, uuid, cp); !st.is_ok()) {
          spdlog::warn("mapping {}: checkpoint not saved: {}", uuid, st.message());
          return [weak, gen, index, st](const Status&) {
            if (auto self = weak.lock()) self->on_checkpoint_saved(gen, index, st);
          };
        }
        return [weak, gen, index](const Status& commit) {
          if (auto self = weak.lock()) self->on_checkpoint_saved(gen, index, commit);
        };
      },
      [weak = weak_self<PartitionPipeline>(), gen, index](const Status& refused) {
        if (auto self = weak.lock()) self->on_checkpoint_saved(gen, index, refused);
      });
}

void PartitionPipeline::on_checkpoint_saved(std::uint64_t gen, int index, const Status& commit) {
  boost::asio::post(strand(), [self = self<PartitionPipeline>(), gen, index, ok = commit.is_ok()] {
    if (gen != self->generation_) return;
    for (auto& p : self->partitions_)
      if (p->init.index == index) {
        p->saving = false;
        // Not on disk: the next save writes the position again instead of trusting it.
        if (!ok) p->saved_position = -1;
        else self->save_checkpoint(*p);
      }
  });
}

void PartitionPipeline::arm(PartitionState& p, Lane& lane, std::int64_t at_ms) {
  if (lane.timer_at_ms == at_ms) return;
  if (lane.timer) lane.timer->cancel();
  lane.timer_at_ms = at_ms;
  const std::uint64_t gen = generation_;
  const int index = p.init.index;
  const int lane_index = lane.index;
  lane.timer = run_at(at_ms, [this, gen, index, lane_index] {
    PartitionState* pp = partition(gen, index);
    if (!pp || lane_index >= static_cast<int>(pp->lanes.size())) return;
    Lane& l = *pp->lanes[static_cast<std::size_t>(lane_index)];
    l.timer_at_ms = 0;
    drive(*pp, l);
  });
}

}  // namespace esm::pollers
