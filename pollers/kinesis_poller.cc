#include "pollers/kinesis_poller.h"

#include <spdlog/spdlog.h>

#include <map>

#include "core/arn.h"
#include "core/uuid.h"
#include "pollers/kinesis_filter.h"
#include "pollers/partition_pipeline.h"
#include "storage/checkpoint_store.h"

namespace esm::pollers {
namespace {

kinesis::StreamRecord stream_record(PartitionRecord& r) {
  return kinesis::StreamRecord{r.position, std::move(r.id), std::move(r.key), std::move(r.data), r.arrival_ms};
}

WindowFields window_fields(const WindowView& w) {
  return WindowFields{w.start_ms, w.end_ms, w.state_json, w.final_invoke, w.terminated_early};
}

}  // namespace

void register_kinesis_poller(PollerRegistry& registry, kinesis::StreamEngine& streams) {
  registry.add(SourceKind::kKinesis, [&streams](const PollerDeps& deps, const Mapping& m) -> std::shared_ptr<Poller> {
    return std::make_shared<PartitionPipeline>(deps, std::make_unique<KinesisPartitionSource>(streams, m), m);
  });
}

KinesisPartitionSource::KinesisPartitionSource(kinesis::StreamEngine& streams, const Mapping& mapping)
    : streams_(streams), stream_arn_(mapping.event_source_arn), region_(source_region_of(mapping)) {
  std::string fn = "function";
  if (auto ref = parse_function_ref(mapping.function_arn)) fn = ref->name;
  role_arn_ = "arn:aws:iam::" + mapping.account + ":role/" + fn + "-role";
}

Result<std::optional<std::vector<PartitionInit>>> KinesisPartitionSource::open(storage::Connection& c,
                                                                              const Mapping& m) {
  kinesis::Stream* st = streams_.find_by_arn(stream_arn_);
  if (!st) return std::optional<std::vector<PartitionInit>>();
  auto loaded = storage::load_checkpoints(c, m.uuid, stream_arn_);
  if (!loaded) return loaded.status();
  std::map<std::string, storage::Checkpoint> saved;
  for (auto& cp : *loaded) saved[cp.partition] = std::move(cp);
  const std::string position = m.starting_position.value_or("LATEST");
  std::vector<PartitionInit> inits;
  for (const auto& sh : st->shards) {
    PartitionInit init{sh.index, sh.id, st->id, st->retention_hours * 3600, 0, std::nullopt};
    // A checkpoint of another stream of this ARN (deleted and recreated since) places
    // nothing: the new stream starts at StartingPosition. A row from before stream ids were
    // recorded (0) cannot be told apart and is trusted, as it was when it was written.
    if (auto it = saved.find(sh.id); it != saved.end() && (it->second.epoch == st->id || it->second.epoch == 0)) {
      init.next = it->second.position;
      init.state = it->second.state;
    } else {
      if (position == "TRIM_HORIZON") {
        init.next = sh.first_index();
      } else if (position == "AT_TIMESTAMP") {
        const auto ts_ms = static_cast<std::int64_t>(m.starting_position_ts.value_or(0) * 1000.0);
        init.next = streams_.index_at_timestamp(*st, sh.index, ts_ms);
      } else {
        init.next = sh.next_index;
      }
      // The iterator is fixed now: a restart before the first batch must not move it.
      if (Status s = storage::save_checkpoint(c, m.uuid, {sh.id, stream_arn_, init.next, std::nullopt, st->id});
          !s.is_ok())
        return s;
    }
    inits.push_back(std::move(init));
  }
  return std::optional<std::vector<PartitionInit>>(std::move(inits));
}

kinesis::Stream* KinesisPartitionSource::stream_of(const PartitionInit& p) {
  kinesis::Stream* st = streams_.find_by_arn(stream_arn_);
  if (!st || st->id != p.epoch || p.index < 0 || p.index >= static_cast<int>(st->shards.size())) return nullptr;
  return st;
}

PartitionRead KinesisPartitionSource::read(const PartitionInit& p, std::int64_t from, int max_records,
                                           std::size_t max_bytes, std::int64_t now_ms) {
  PartitionRead out;
  kinesis::Stream* st = stream_of(p);
  if (!st) {
    out.gone = true;
    return out;
  }
  kinesis::ShardRead r = streams_.read(*st, p.index, from, max_records, max_bytes, now_ms);
  out.next = r.next_index;
  out.caught_up = r.next_index >= r.latest_index;
  out.retention_s = st->retention_hours * 3600;
  out.records.reserve(r.records.size());
  for (auto& rec : r.records)
    out.records.push_back(PartitionRecord{rec.index, std::move(rec.sequence_number), std::move(rec.partition_key),
                                          rec.arrival_ms, std::move(rec.data)});
  return out;
}

void KinesisPartitionSource::wait(const PartitionInit& p, std::int64_t from, const std::string& owner,
                                  std::function<void()> woken) {
  kinesis::Stream* st = stream_of(p);
  if (!st) return woken();  // the next read finds it gone
  streams_.wait_for_records(*st, p.index, from, owner, std::move(woken));
}

void KinesisPartitionSource::cancel_waits(const std::string& owner) { streams_.cancel_waiters(owner); }

KinesisSource KinesisPartitionSource::event_source(const std::string& shard_id) const {
  return KinesisSource{stream_arn_, region_, shard_id, role_arn_};
}

std::optional<std::string> KinesisPartitionSource::render(const EventFilter& filter, PartitionRecord& r,
                                                          const std::string& partition_id) const {
  // The record's fields move into a StreamRecord and back: no copy of the data, which is
  // dropped afterwards (keeping it beside its base64 would hold 2.3 times the bytes).
  kinesis::StreamRecord rec = stream_record(r);
  const bool passes = kinesis_record_passes(filter, rec, partition_id, stream_arn_, region_);
  std::optional<std::string> json;
  if (passes) {
    auto frame = frames_.find(partition_id);
    if (frame == frames_.end()) frame = frames_.emplace(partition_id, kinesis_record_frame(event_source(partition_id))).first;
    json = kinesis_record_json(rec, frame->second);
  }
  r.id = std::move(rec.sequence_number);
  r.key = std::move(rec.partition_key);
  return json;
}

std::string KinesisPartitionSource::event_json(const std::vector<std::string>& records, std::size_t begin,
                                               std::size_t end, const WindowView* window,
                                               const std::string& partition_id) const {
  if (!window) return kinesis_event_json(records, begin, end);
  return kinesis_window_event_json(records, begin, end, window_fields(*window), event_source(partition_id));
}

std::size_t KinesisPartitionSource::event_size(std::size_t n, std::size_t record_bytes, const WindowView* window,
                                               const std::string& partition_id) const {
  const std::size_t overhead = window ? window_fields_size(window_fields(*window), event_source(partition_id)) : 0;
  return kinesis_event_size(n, record_bytes) + overhead;
}

FailureRecord KinesisPartitionSource::failure_of(const FailedBatch& b) const {
  const GiveUp& g = b.give_up;
  FailureRecord f;
  f.request_id = b.last && !b.last->request_id.empty() ? b.last->request_id : new_uuid();
  f.function_arn = b.function_arn;
  f.condition = g.condition;
  f.approximate_invoke_count = g.approximate_invoke_count;
  if (g.condition == Condition::kRetryAttemptsExhausted && b.last) {
    FailureResponse r;
    r.status_code = b.last->http_status > 0 ? b.last->http_status : 200;
    r.executed_version = b.last->executed_version.empty() ? "$LATEST" : b.last->executed_version;
    if (b.last->status == InvokeStatus::kFunctionError)
      r.function_error = b.last->function_error.empty() ? std::string("Unhandled") : b.last->function_error;
    f.response = std::move(r);
  }
  f.timestamp_ms = b.now_ms;
  f.shard_id = b.partition_id;
  f.start_sequence_number = b.first.id;
  f.end_sequence_number = b.last_record.id;
  f.first_arrival_ms = b.first.arrival_ms;
  f.last_arrival_ms = b.last_record.arrival_ms;
  f.batch_size = g.end - g.begin;
  f.stream_arn = stream_arn_;
  return f;
}

std::string KinesisPartitionSource::failure_record(const FailedBatch& b) const {
  return failure_record_json(failure_of(b));
}

std::string KinesisPartitionSource::failure_object(const FailedBatch& b) const {
  return s3_failure_object_json(failure_of(b), b.jsons, b.give_up.begin, b.give_up.end);
}

}  // namespace esm::pollers
