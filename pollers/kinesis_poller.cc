#include "pollers/kinesis_poller.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <boost/asio/post.hpp>

#include "core/arn.h"
#include "core/codec.h"
#include "core/uuid.h"
#include "pollers/kinesis_filter.h"
#include "pollers/sqs_event.h"
#include "storage/mapping_store.h"

namespace esm::pollers {
namespace {

// Read-ahead per shard: records read and not finished, at most.
constexpr std::size_t kMinBuffered = 500;
constexpr std::size_t kMaxBuffered = 20000;
// Bytes of record data one read returns, about.
constexpr std::size_t kReadBytes = 16u * 1024 * 1024;
// Read-ahead per lane in bytes of event JSON, about: two full events, so the next batch is ready
// while one is in flight, without 20,000 large records held per shard.
constexpr std::size_t kBufferedBytesPerLane = 2 * kMaxEventBytes;
// How soon a poller tries again when the stream is missing.
constexpr auto kReopenDelay = std::chrono::seconds(1);

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

KinesisPoller::KinesisPoller(PollerDeps deps, Mapping mapping)
    : deps_(deps),
      strand_(boost::asio::make_strand(deps.ioc)),
      retry_timer_(strand_),
      config_(std::move(mapping)),
      owner_("kinesis-poller " + config_.uuid) {
  last_result_ = config_.last_processing_result.value_or("");
  std::string fn = "function";
  if (auto ref = parse_function_ref(config_.function_arn)) fn = ref->name;
  role_arn_ = "arn:aws:iam::" + config_.account + ":role/" + fn + "-role";
  filter_ = compile_mapping_filter(config_);
}

void KinesisPoller::start() {
  boost::asio::post(strand_, [self = shared_from_this()] { self->open(); });
}

void KinesisPoller::update(Mapping mapping) {
  boost::asio::post(strand_, [self = shared_from_this(), m = std::move(mapping)]() mutable { self->apply(std::move(m)); });
}

void KinesisPoller::stop(std::function<void()> on_stopped) {
  boost::asio::post(strand_, [self = shared_from_this(), cb = std::move(on_stopped)]() mutable {
    self->stopping_ = true;
    self->on_stopped_ = std::move(cb);
    self->retry_timer_.cancel();
    self->pause("stopped");
    self->check_stopped();
  });
}

bool KinesisPoller::should_poll() const {
  if (stopping_) return false;
  // Updating keeps polling when it settles back to Enabled (control-plane.md §3.4).
  return config_.state == MappingState::kEnabled ||
         (config_.state == MappingState::kUpdating && config_.settle_to == MappingState::kEnabled);
}

int KinesisPoller::lane_count() const {
  if (config_.tumbling_window_s.value_or(0) > 0) return 1;
  return std::clamp(config_.parallelization_factor.value_or(1), 1, 10);
}

void KinesisPoller::apply(Mapping mapping) {
  const bool was_polling = should_poll();
  if (was_polling && mapping.state == MappingState::kUpdating) {
    // The new configuration applies when Updating settles; until then the old one polls on.
    config_.state = mapping.state;
    config_.settle_to = mapping.settle_to;
    return;
  }
  const bool changed = !same_processing(config_, mapping);
  const bool new_filter = mapping.filter_patterns != config_.filter_patterns;
  config_ = std::move(mapping);
  if (new_filter) filter_ = compile_mapping_filter(config_);
  if (was_polling && !should_poll()) {
    drain("mapping not enabled");
  } else if (changed && (running_ || opening_)) {
    // Lanes, windows and batches are built from the configuration: start again from the
    // checkpoints once the batches in flight have answered.
    drain("configuration changed");
  }
  open();
}

void KinesisPoller::open() {
  if (!should_poll() || running_ || opening_ || draining_ || in_flight_ > 0) return;
  if (!deps_.streams) return;
  opening_ = true;
  const std::uint64_t gen = generation_;
  deps_.db.submit_relaxed([weak = weak_from_this(), gen, m = config_](storage::Connection& c) -> storage::DbWorker::Done {
    auto self = weak.lock();
    if (!self) return nullptr;
    kinesis::Stream* st = self->deps_.streams->find_by_arn(m.event_source_arn);
    // Without the stream, or without the checkpoints (a read error is not "none": applying
    // StartingPosition would skip or repeat records), try again a little later.
    auto loaded = st ? storage::load_checkpoints(c, m.uuid, m.event_source_arn)
                     : Result<std::vector<storage::Checkpoint>>(std::vector<storage::Checkpoint>{});
    if (!loaded) spdlog::warn("mapping {}: checkpoints not read: {}", m.uuid, loaded.status().message());
    if (!st || !loaded) {
      return [self, gen](const Status&) {
        boost::asio::post(self->strand_, [self, gen] {
          if (gen != self->generation_) return;
          self->opening_ = false;
          self->retry_timer_.expires_after(kReopenDelay);
          self->retry_timer_.async_wait([self](const boost::system::error_code& ec) {
            if (!ec) self->open();
          });
        });
      };
    }
    std::map<std::string, storage::Checkpoint> saved;
    for (auto& cp : *loaded) saved[cp.shard_id] = std::move(cp);
    const std::string position = m.starting_position.value_or("LATEST");
    std::vector<ShardInit> inits;
    for (const auto& sh : st->shards) {
      ShardInit init{sh.index, sh.id, st->id, st->retention_hours * 3600, 0, std::nullopt};
      // A checkpoint of another stream of this ARN (deleted and recreated since) places
      // nothing: the new stream starts at StartingPosition. A row from before stream ids were
      // recorded (0) cannot be told apart and is trusted, as it was when it was written.
      if (auto it = saved.find(sh.id);
          it != saved.end() && (it->second.stream_id == st->id || it->second.stream_id == 0)) {
        init.next_index = it->second.next_index;
        init.window_json = it->second.window_json;
      } else {
        if (position == "TRIM_HORIZON") {
          init.next_index = sh.first_index();
        } else if (position == "AT_TIMESTAMP") {
          const auto ts_ms = static_cast<std::int64_t>(m.starting_position_ts.value_or(0) * 1000.0);
          init.next_index = self->deps_.streams->index_at_timestamp(*st, sh.index, ts_ms);
        } else {
          init.next_index = sh.next_index;
        }
        // The iterator is fixed now: a restart before the first batch must not move it.
        if (Status s = storage::save_checkpoint(
                c, m.uuid, {sh.id, m.event_source_arn, init.next_index, std::nullopt, st->id});
            !s.is_ok())
          spdlog::warn("mapping {}: checkpoint not saved: {}", m.uuid, s.message());
      }
      inits.push_back(std::move(init));
    }
    return [self, gen, inits = std::move(inits)](const Status&) mutable {
      boost::asio::post(self->strand_, [self, gen, inits = std::move(inits)]() mutable {
        self->on_opened(gen, std::move(inits));
      });
    };
  }, [weak = weak_from_this(), gen](const Status& refused) {
    auto self = weak.lock();
    if (!self) return;
    spdlog::warn("mapping {}: checkpoints not read: {}", self->config_.uuid, refused.message());
    boost::asio::post(self->strand_, [self, gen] {
      if (gen != self->generation_) return;
      self->opening_ = false;
      self->retry_timer_.expires_after(kReopenDelay);
      self->retry_timer_.async_wait([self](const boost::system::error_code& ec) {
        if (!ec) self->open();
      });
    });
  });
}

void KinesisPoller::on_opened(std::uint64_t gen, std::vector<ShardInit> shards) {
  if (gen != generation_) return;
  opening_ = false;
  if (!should_poll()) return;
  running_ = true;
  spdlog::info("mapping {}: Kinesis poller running on {} shards", config_.uuid, shards.size());
  const int lanes = lane_count();
  shards_.clear();
  for (auto& init : shards) {
    auto s = std::make_unique<ShardState>();
    s->index = init.index;
    s->id = init.id;
    s->stream_id = init.stream_id;
    s->retention_s = init.retention_s;
    s->read_from = init.next_index;
    s->saved_index = init.next_index;
    s->saved_window = init.window_json;
    if (init.window_json && config_.tumbling_window_s.value_or(0) > 0) {
      if (auto w = saved_window_of(*init.window_json)) {
        const bool too_big = w->state_json.size() > kMaxWindowState;
        s->window = OpenWindow{w->start_ms, std::move(w->state_json), too_big};
      }
    }
    for (int i = 0; i < lanes; ++i) {
      s->lanes.push_back(std::make_unique<Lane>(strand_));
      s->lanes.back()->index = i;
    }
    shards_.push_back(std::move(s));
  }
  for (auto& s : shards_) {
    read(*s);
    for (auto& lane : s->lanes) drive(*s, *lane);
  }
}

void KinesisPoller::drain(const char* why) {
  if (!running_) {
    pause(why);
    return;
  }
  if (draining_) return;
  draining_ = true;
  drain_reason_ = why;
  for (auto& s : shards_)
    for (auto& lane : s->lanes) {
      lane->timer.cancel();
      lane->timer_at_ms = 0;
    }
  finish_drain();
}

void KinesisPoller::finish_drain() {
  if (!draining_ || in_flight_ > 0) return;
  pause(drain_reason_.c_str());
  open();
}

void KinesisPoller::pause(const char* why) {
  draining_ = false;
  if (!running_ && !opening_) return;
  // A position newer than the last one handed to SQLite, held back while an earlier save was
  // in flight, would be lost: that save's completion is dropped once the generation moves.
  // The DbWorker runs jobs in order, so these land before the reopen job reads them.
  for (auto& s : shards_) flush_checkpoint(*s);
  ++generation_;
  running_ = false;
  opening_ = false;
  for (auto& s : shards_)
    for (auto& lane : s->lanes) lane->timer.cancel();
  shards_.clear();
  spdlog::info("mapping {}: Kinesis poller paused ({})", config_.uuid, why);
  if (deps_.streams) {
    deps_.db.submit_relaxed([engine = deps_.streams, owner = owner_](storage::Connection&) -> storage::DbWorker::Done {
      engine->cancel_waiters(owner);
      return nullptr;
    }, nullptr);
  }
}

void KinesisPoller::read(ShardState& s) {
  if (!running_ || draining_ || s.reading) return;
  const std::size_t cap =
      std::clamp<std::size_t>(2 * static_cast<std::size_t>(config_.batch_size) * s.lanes.size(), kMinBuffered,
                              kMaxBuffered);
  if (s.unfinished.size() >= cap) return;
  const std::size_t byte_cap = kBufferedBytesPerLane * s.lanes.size();
  if (s.buffered_bytes >= byte_cap) return;
  s.reading = true;
  const int max_records = static_cast<int>(std::min<std::size_t>(10000, cap - s.unfinished.size()));
  // The read counts raw data; a record's event JSON is its data in base64 (4/3) plus fields.
  const std::size_t max_bytes = std::min(kReadBytes, (byte_cap - s.buffered_bytes) / 4 * 3);
  const std::uint64_t gen = generation_;
  const int shard = s.index;
  const std::int64_t from = s.read_from;
  deps_.db.submit_relaxed([weak = weak_from_this(), gen, shard, from, max_records, max_bytes, stream_id = s.stream_id,
                           arn = config_.event_source_arn](storage::Connection&) -> storage::DbWorker::Done {
    auto self = weak.lock();
    if (!self) return nullptr;
    auto& engine = *self->deps_.streams;
    kinesis::Stream* st = engine.find_by_arn(arn);
    if (!st || st->id != stream_id || shard < 0 || shard >= static_cast<int>(st->shards.size())) {
      // The stream is gone (or deleted and recreated under the same ARN): start over (and
      // wait for it) from the checkpoints.
      return [self, gen](const Status&) {
        boost::asio::post(self->strand_, [self, gen] {
          if (gen != self->generation_ || !self->running_) return;
          self->pause("stream not found");
          self->retry_timer_.expires_after(kReopenDelay);
          self->retry_timer_.async_wait([self](const boost::system::error_code& ec) {
            if (!ec) self->open();
          });
        });
      };
    }
    kinesis::ShardRead r = engine.read(*st, shard, from, max_records, max_bytes, self->deps_.clock.now_ms());
    if (r.records.empty()) {
      // The waiter holds the poller weakly: an engine that outlives the poller drops it unused.
      engine.wait_for_records(*st, shard, r.next_index, self->owner_, [weak, gen, shard] {
        auto poller = weak.lock();
        if (!poller) return;
        boost::asio::post(poller->strand_, [self = poller, gen, shard] {
          if (gen != self->generation_ || !self->running_) return;
          for (auto& sp : self->shards_)
            if (sp->index == shard) {
              sp->reading = false;
              self->read(*sp);
            }
        });
      });
    }
    return [self, gen, shard, retention_s = st->retention_hours * 3600, r = std::move(r)](const Status&) mutable {
      boost::asio::post(self->strand_, [self, gen, shard, retention_s, r = std::move(r)]() mutable {
        self->on_read(gen, shard, retention_s, std::move(r));
      });
    };
  }, [weak = weak_from_this(), gen](const Status& refused) {
    // Nothing was read: start over from the checkpoints once the database is back.
    auto self = weak.lock();
    if (!self) return;
    boost::asio::post(self->strand_, [self, gen, why = refused.message()] {
      if (gen != self->generation_ || !self->running_) return;
      spdlog::warn("mapping {}: shard read refused: {}", self->config_.uuid, why);
      self->pause("database unavailable");
      self->retry_timer_.expires_after(kReopenDelay);
      self->retry_timer_.async_wait([self](const boost::system::error_code& ec) {
        if (!ec) self->open();
      });
    });
  });
}

void KinesisPoller::on_read(std::uint64_t gen, int shard, int retention_s, kinesis::ShardRead r) {
  if (gen != generation_ || !running_) return;
  ShardState* sp = nullptr;
  for (auto& s : shards_)
    if (s->index == shard) sp = s.get();
  if (!sp) return;
  ShardState& s = *sp;
  s.retention_s = retention_s;
  s.read_from = std::max(s.read_from, r.next_index);
  s.caught_up = r.next_index >= r.latest_index;
  // An empty read left a waiter behind, which clears `reading` when records come.
  if (!r.records.empty()) s.reading = false;
  const std::int64_t now = deps_.clock.now_ms();
  const KinesisSource src = source(s);
  const int lanes = static_cast<int>(s.lanes.size());
  for (auto& rec : r.records) {
    if (!record_matches(rec, s.id)) continue;
    Lane& lane = *s.lanes[static_cast<std::size_t>(lane_of(rec.partition_key, lanes))];
    if (lane.queue.empty()) lane.queued_since_ms = now;
    s.unfinished.insert(rec.index);
    std::string json = kinesis_record_json(rec, src);
    s.buffered_bytes += json.size();
    // Filtered and encoded: nothing reads the raw data again, and keeping it beside its base64
    // would hold 2.3 times the bytes.
    std::string().swap(rec.data);
    lane.queue.push_back(Record{std::move(rec), std::move(json)});
  }
  save_checkpoint(s);
  for (auto& lane : s.lanes) drive(s, *lane);
  read(s);
}

bool KinesisPoller::record_matches(const kinesis::StreamRecord& r, const std::string& shard_id) const {
  // FilterCriteria (§3.9) applies here, before any batch is formed: a record that does not
  // match is never queued, so it is skipped and checkpointed and never counts as a failure.
  return kinesis_record_passes(*filter_, r, shard_id, config_.event_source_arn, config_.region);
}

void KinesisPoller::drive(ShardState& s, Lane& lane) {
  while (running_ && !draining_) {
    if (!lane.active && !form_batch(s, lane)) return;
    Active& a = *lane.active;
    if (a.in_flight) return;
    const std::int64_t now = deps_.clock.now_ms();
    Step step = a.run.next(now);
    for (const auto& g : step.given_up) give_up(s, a, g);
    finish_records(s, a);
    switch (step.kind) {
      case Step::Kind::kInvoke:
        a.begin = step.begin;
        a.end = step.end;
        invoke(s, lane);
        return;
      case Step::Kind::kWait:
        arm(s, lane, step.wait_until_ms);
        return;
      case Step::Kind::kDone:
        if (a.final_invoke) s.window.reset();
        lane.active.reset();
        lane.last_completed_ms = now;
        save_checkpoint(s);
        read(s);
        break;
    }
  }
}

bool KinesisPoller::form_batch(ShardState& s, Lane& lane) {
  const std::int64_t now = deps_.clock.now_ms();
  const int tumbling = config_.tumbling_window_s.value_or(0);
  std::size_t available = lane.queue.size();
  bool final_invoke = false;
  std::int64_t window_start = 0;
  if (tumbling > 0) {
    if (!s.window) {
      if (lane.queue.empty()) return false;
      s.window = OpenWindow{window_start_of(lane.queue.front().rec.arrival_ms, tumbling), "{}", false};
    }
    window_start = s.window->start_ms;
    const std::int64_t end = window_start + static_cast<std::int64_t>(tumbling) * 1000;
    available = 0;
    while (available < lane.queue.size() && lane.queue[available].rec.arrival_ms < end) ++available;
    const bool window_over = now >= end && (s.caught_up || available < lane.queue.size());
    if (s.window->terminated_early) {
      available = 0;
      final_invoke = true;
    } else if (available == 0) {
      if (!window_over) {
        if (now < end) arm(s, lane, end);
        return false;
      }
      final_invoke = true;
    } else {
      final_invoke = window_over && available <= static_cast<std::size_t>(config_.batch_size);
    }
  }
  // Take up to BatchSize records within the 6 MB event cap.
  std::size_t overhead = 0;
  if (tumbling > 0) {
    WindowFields wf{window_start, window_start + tumbling * 1000LL, s.window->state_json, final_invoke,
                    s.window->terminated_early};
    overhead = window_fields_size(wf, source(s));
  }
  std::size_t take = 0;
  std::size_t bytes = 0;
  bool size_cut = false;
  while (take < available && take < static_cast<std::size_t>(config_.batch_size)) {
    const std::size_t next = bytes + lane.queue[take].json.size();
    if (take > 0 && kinesis_event_size(take + 1, next) + overhead > kMaxEventBytes) {
      size_cut = true;
      break;
    }
    bytes = next;
    ++take;
  }
  if (size_cut) final_invoke = false;
  if (take == 0 && !final_invoke) return false;
  // The batching window holds an underfilled batch (one that more records could still join).
  const int window_s = config_.batching_window_s.value_or(0);
  const bool more_possible = take == available && take < static_cast<std::size_t>(config_.batch_size) &&
                             !size_cut && !final_invoke && (tumbling == 0 || available == lane.queue.size());
  if (window_s > 0 && more_possible && take > 0) {
    const std::int64_t deadline = std::max(lane.last_completed_ms, lane.queued_since_ms) + window_s * 1000LL;
    if (now < deadline) {
      arm(s, lane, deadline);
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
  std::vector<std::string> seqs;
  arrivals.reserve(take);
  jsons.reserve(take);
  seqs.reserve(take);
  for (auto& r : records) {
    arrivals.push_back(r.rec.arrival_ms);
    jsons.push_back(std::move(r.json));
    seqs.push_back(r.rec.sequence_number);
  }
  // Records past the stream's retention are trimmed and given up as RecordAgeExceeded, so with
  // the defaults (retry and age unlimited) a failing batch still ends (§3.2).
  RetryConfig rc{config_.maximum_retry_attempts.value_or(-1), config_.maximum_record_age_s.value_or(-1),
                 config_.bisect_on_error.value_or(false), s.retention_s};
  lane.active.emplace(Active{std::move(records), std::move(jsons), std::move(seqs),
                             BatchRun(std::move(arrivals), rc, final_invoke), 0, 0, 0, false, final_invoke,
                             window_start, std::nullopt});
  return true;
}

KinesisSource KinesisPoller::source(const ShardState& s) const {
  return KinesisSource{config_.event_source_arn, config_.region, s.id, role_arn_};
}

void KinesisPoller::invoke(ShardState& s, Lane& lane) {
  Active& a = *lane.active;
  std::string event;
  const int tumbling = config_.tumbling_window_s.value_or(0);
  if (tumbling > 0) {
    WindowFields wf{a.window_start_ms, a.window_start_ms + tumbling * 1000LL,
                    s.window ? s.window->state_json : std::string("{}"), a.final_invoke,
                    a.final_invoke && s.window && s.window->terminated_early};
    event = kinesis_window_event_json(a.jsons, a.begin, a.end, wf, source(s));
  } else {
    event = kinesis_event_json(a.jsons, a.begin, a.end);
  }
  a.in_flight = true;
  ++in_flight_;
  const std::uint64_t gen = generation_;
  const int shard = s.index;
  const int lane_index = lane.index;
  deps_.invoker.invoke(InvokeRequest{config_.function_arn, config_.uuid, std::move(event)},
                       [self = shared_from_this(), gen, shard, lane_index](InvokeOutcome outcome) mutable {
                         boost::asio::post(self->strand_, [self, gen, shard, lane_index,
                                                           outcome = std::move(outcome)]() mutable {
                           self->on_invoked(gen, shard, lane_index, std::move(outcome));
                         });
                       });
}

void KinesisPoller::on_invoked(std::uint64_t gen, int shard, int lane_index, InvokeOutcome outcome) {
  --in_flight_;
  ShardState* sp = nullptr;
  if (gen == generation_ && running_)
    for (auto& s : shards_)
      if (s->index == shard) sp = s.get();
  if (!sp || lane_index >= static_cast<int>(sp->lanes.size()) || !sp->lanes[lane_index]->active) {
    // The poller paused meanwhile: this batch was not checkpointed and comes again.
    open();
    check_stopped();
    return;
  }
  ShardState& s = *sp;
  Lane& lane = *s.lanes[static_cast<std::size_t>(lane_index)];
  Active& a = *lane.active;
  a.in_flight = false;
  const std::int64_t now = deps_.clock.now_ms();
  Judgement j =
      judge_stream_batch(outcome, config_.report_batch_item_failures.value_or(false), a.seqs, a.begin, a.end);
  if (config_.tumbling_window_s.value_or(0) > 0 && (j.verdict == Verdict::kSuccess || j.verdict == Verdict::kPartial)) {
    // A window response without `state` counts as a failed invocation (§3.8).
    if (auto state = window_state_of(outcome.payload); state && s.window) {
      s.window->state_json = std::move(*state);
      if (s.window->state_json.size() > kMaxWindowState) s.window->terminated_early = true;
    } else {
      j = Judgement{Verdict::kFailure, 0};
    }
  }
  if (j.verdict != Verdict::kSuccess)
    spdlog::debug("mapping {}: {} batch of {} records failed ({})", config_.uuid, s.id, a.end - a.begin,
                  outcome.detail.empty() ? outcome.function_error : outcome.detail);
  set_result(j.verdict == Verdict::kSuccess ? kResultOk : kResultProblem);
  a.last = std::move(outcome);
  if (auto g = a.run.on_result(j, now)) give_up(s, a, *g);
  finish_records(s, a);
  drive(s, lane);
  finish_drain();
  check_stopped();
}

void KinesisPoller::finish_records(ShardState& s, Active& a) {
  const std::size_t done = a.run.done();
  if (done <= a.finished) return;
  for (std::size_t i = a.finished; i < done; ++i) {
    s.unfinished.erase(a.records[i].rec.index);
    s.buffered_bytes -= std::min(s.buffered_bytes, a.jsons[i].size());
  }
  a.finished = done;
  save_checkpoint(s);
  read(s);
}

void KinesisPoller::give_up(ShardState& s, Active& a, const GiveUp& g) {
  if (g.begin >= g.end) return;  // a final window call without records: nothing to report
  FailureRecord f;
  f.request_id = a.last && !a.last->request_id.empty() ? a.last->request_id : new_uuid();
  f.function_arn = config_.function_arn;
  f.condition = g.condition;
  f.approximate_invoke_count = g.approximate_invoke_count;
  if (g.condition == Condition::kRetryAttemptsExhausted && a.last) {
    FailureResponse r;
    r.status_code = a.last->http_status > 0 ? a.last->http_status : 200;
    r.executed_version = a.last->executed_version.empty() ? "$LATEST" : a.last->executed_version;
    if (a.last->status == InvokeStatus::kFunctionError)
      r.function_error = a.last->function_error.empty() ? std::string("Unhandled") : a.last->function_error;
    f.response = std::move(r);
  }
  f.timestamp_ms = deps_.clock.now_ms();
  f.shard_id = s.id;
  f.start_sequence_number = a.records[g.begin].rec.sequence_number;
  f.end_sequence_number = a.records[g.end - 1].rec.sequence_number;
  f.first_arrival_ms = a.records[g.begin].rec.arrival_ms;
  f.last_arrival_ms = a.records[g.end - 1].rec.arrival_ms;
  f.batch_size = g.end - g.begin;
  f.stream_arn = config_.event_source_arn;
  spdlog::info("mapping {}: {} records of {} given up ({}, {} invocations)", config_.uuid, f.batch_size, s.id,
               g.condition == Condition::kRecordAgeExceeded ? "RecordAgeExceeded" : "RetryAttemptsExhausted",
               g.approximate_invoke_count);
  const std::string destination =
      config_.destinations && config_.destinations->on_failure ? *config_.destinations->on_failure : "";
  if (destination.empty()) return;
  std::string object;
  if (destination.starts_with("arn:aws:s3:")) object = s3_failure_object_json(f, a.jsons, g.begin, g.end);
  deliver_failure(destination, s.id, failure_record_json(f), std::move(object));
}

void KinesisPoller::deliver_failure(const std::string& destination, const std::string& shard_id, std::string body,
                                    std::string object) {
  const std::int64_t now = deps_.clock.now_ms();
  if (destination.starts_with("arn:aws:sqs:")) {
    // Ahead of the checkpoint job that moves past these records: the DbWorker keeps the order.
    deps_.db.submit_relaxed([queues = &deps_.queues, clock = &deps_.clock, uuid = config_.uuid, destination,
                             body = std::move(body)](storage::Connection& c) -> storage::DbWorker::Done {
      services::sqs::Queue* q = queues->find_by_arn(destination);
      if (!q) {
        spdlog::warn("mapping {}: OnFailure queue {} does not exist; failure record dropped", uuid, destination);
        return nullptr;
      }
      services::sqs::SendInput in;
      in.body = body;
      if (q->fifo) {
        in.group_id = uuid;
        in.dedup_id = new_uuid();
      }
      auto sent = queues->send(c, *q, std::move(in), clock->now_ms());
      if (!sent) spdlog::warn("mapping {}: failure record not sent: {}", uuid, services::sqs::kind_name(sent.error().kind));
      return nullptr;
    }, [uuid = config_.uuid](const Status& s) {
      spdlog::warn("mapping {}: failure record not sent: {}", uuid, s.message());
    });
    return;
  }
  if (!deps_.destinations) return;
  DestinationEntry e;
  e.time_ms = now;
  e.arn = destination;
  e.mapping_uuid = config_.uuid;
  if (destination.starts_with("arn:aws:s3:")) {
    e.key = s3_failure_key(config_.uuid, shard_id, now, new_uuid());
    e.body = std::move(object);
  } else {
    e.key = new_uuid();
    e.body = std::move(body);
  }
  deps_.destinations->append(std::move(e));
}

void KinesisPoller::set_result(const char* result) {
  if (last_result_ == result) return;
  last_result_ = result;
  deps_.db.submit_relaxed([uuid = config_.uuid, r = std::string(result)](storage::Connection& c) -> storage::DbWorker::Done {
    if (Status s = storage::set_last_processing_result(c, uuid, r); !s.is_ok())
      spdlog::warn("mapping {}: LastProcessingResult not saved: {}", uuid, s.message());
    return nullptr;
  }, nullptr);
}

std::optional<std::string> KinesisPoller::window_json(const ShardState& s) const {
  if (!s.window) return std::nullopt;
  return window_doc(s.window->start_ms, s.window->state_json);
}

std::int64_t KinesisPoller::checkpoint_position(const ShardState& s) {
  return s.unfinished.empty() ? s.read_from : *s.unfinished.begin();
}

void KinesisPoller::flush_checkpoint(ShardState& s) {
  const std::int64_t pos = checkpoint_position(s);
  std::optional<std::string> wj = window_json(s);
  if (pos == s.saved_index && wj == s.saved_window) return;
  s.saved_index = pos;
  s.saved_window = wj;
  deps_.db.submit_relaxed([uuid = config_.uuid, cp = storage::Checkpoint{s.id, config_.event_source_arn, pos,
                                                                           std::move(wj), s.stream_id}](
                              storage::Connection& c) -> storage::DbWorker::Done {
    if (Status st = storage::save_checkpoint(c, uuid, cp); !st.is_ok())
      spdlog::warn("mapping {}: checkpoint not saved: {}", uuid, st.message());
    return nullptr;
  }, [uuid = config_.uuid](const Status& st) { spdlog::warn("mapping {}: checkpoint not saved: {}", uuid, st.message()); });
}

void KinesisPoller::save_checkpoint(ShardState& s) {
  const std::int64_t pos = checkpoint_position(s);
  std::optional<std::string> wj = window_json(s);
  if (s.saving || (pos == s.saved_index && wj == s.saved_window)) return;
  s.saving = true;
  s.saved_index = pos;
  s.saved_window = wj;
  const std::uint64_t gen = generation_;
  const int shard = s.index;
  deps_.db.submit_relaxed([weak = weak_from_this(), gen, shard, uuid = config_.uuid,
                           cp = storage::Checkpoint{s.id, config_.event_source_arn, pos, wj, s.stream_id}](
                              storage::Connection& c) -> storage::DbWorker::Done {
    if (Status st = storage::save_checkpoint(c, uuid, cp); !st.is_ok())
      spdlog::warn("mapping {}: checkpoint not saved: {}", uuid, st.message());
    return [weak, gen, shard](const Status& commit) {
      auto self = weak.lock();
      if (!self) return;
      self->on_checkpoint_saved(gen, shard, commit);
    };
  }, [weak = weak_from_this(), gen, shard](const Status& refused) {
    if (auto self = weak.lock()) self->on_checkpoint_saved(gen, shard, refused);
  });
}

void KinesisPoller::on_checkpoint_saved(std::uint64_t gen, int shard, const Status& commit) {
  boost::asio::post(strand_, [self = shared_from_this(), gen, shard, ok = commit.is_ok()] {
    if (gen != self->generation_) return;
    for (auto& sp : self->shards_)
      if (sp->index == shard) {
        sp->saving = false;
        // Not on disk: the next save writes the position again instead of trusting it.
        if (!ok) sp->saved_index = -1;
        else self->save_checkpoint(*sp);
      }
  });
}

void KinesisPoller::arm(ShardState& s, Lane& lane, std::int64_t at_ms) {
  if (lane.timer_at_ms == at_ms) return;
  lane.timer_at_ms = at_ms;
  const std::int64_t delay = std::max<std::int64_t>(0, at_ms - deps_.clock.now_ms());
  lane.timer.expires_after(std::chrono::milliseconds(delay));
  const std::uint64_t gen = generation_;
  const int shard = s.index;
  const int lane_index = lane.index;
  lane.timer.async_wait([self = shared_from_this(), gen, shard, lane_index](const boost::system::error_code& ec) {
    if (ec || gen != self->generation_ || !self->running_) return;
    for (auto& sp : self->shards_)
      if (sp->index == shard && lane_index < static_cast<int>(sp->lanes.size())) {
        Lane& l = *sp->lanes[static_cast<std::size_t>(lane_index)];
        l.timer_at_ms = 0;
        self->drive(*sp, l);
      }
  });
}

void KinesisPoller::check_stopped() {
  if (stopping_ && in_flight_ == 0 && on_stopped_) {
    auto cb = std::move(on_stopped_);
    on_stopped_ = nullptr;
    cb();
  }
}

}  // namespace esm::pollers
