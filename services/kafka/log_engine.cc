#include "services/kafka/log_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "services/kafka/record_batch.h"

namespace esm::kafka {
namespace {

constexpr std::int64_t kRetentionCheckMs = 1000;
constexpr int kRetentionChunk = 256;

LogError batch_error(BatchError e) {
  switch (e) {
    case BatchError::kUnsupportedMagic: return LogError::kUnsupportedForMessageFormat;
    case BatchError::kInvalidRecord: return LogError::kInvalidRecord;
    case BatchError::kCorrupt:
    case BatchError::kUnsupportedCodec: break;
  }
  return LogError::kCorruptMessage;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "first:last:offset;..." for a producer's retained batches.
std::string encode_batches(const std::deque<ProducerBatch>& batches) {
  std::string out;
  for (const auto& b : batches) {
    if (!out.empty()) out += ';';
    out += std::to_string(b.first_seq) + ':' + std::to_string(b.last_seq) + ':' + std::to_string(b.base_offset);
  }
  return out;
}

std::deque<ProducerBatch> decode_batches(std::string_view s) {
  std::deque<ProducerBatch> out;
  while (!s.empty()) {
    std::size_t end = s.find(';');
    std::string_view item = s.substr(0, end);
    std::size_t a = item.find(':'), b = item.rfind(':');
    if (a != std::string_view::npos && b != a) {
      auto f = parse_int(item.substr(0, a)), l = parse_int(item.substr(a + 1, b - a - 1)), o = parse_int(item.substr(b + 1));
      if (f && l && o)
        out.push_back({static_cast<std::int32_t>(*f), static_cast<std::int32_t>(*l), *o});
    }
    if (end == std::string_view::npos) break;
    s.remove_prefix(end + 1);
  }
  return out;
}

// "name=value\n..." for a topic's configs (names and values never hold a newline or '=' in
// the name: parse() accepts only Kafka's names).
std::string encode_configs(const std::map<std::string, std::string>& configs) {
  std::string out;
  for (const auto& [k, v] : configs) out += k + '=' + v + '\n';
  return out;
}

std::map<std::string, std::string> decode_configs(std::string_view s) {
  std::map<std::string, std::string> out;
  while (!s.empty()) {
    std::size_t end = s.find('\n');
    std::string_view line = s.substr(0, end);
    if (std::size_t eq = line.find('='); eq != std::string_view::npos)
      out.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
    if (end == std::string_view::npos) break;
    s.remove_prefix(end + 1);
  }
  return out;
}

// The topic configs esmd accepts, with Kafka's defaults. Only retention.ms, max.message.bytes
// and message.timestamp.type change what esmd does; the others are kept and reported.
struct ConfigDef {
  const char* name;
  const char* default_value;
  bool numeric;
};
constexpr ConfigDef kConfigs[] = {
    {"cleanup.policy", "delete", false},
    {"compression.type", "producer", false},
    {"delete.retention.ms", "86400000", true},
    {"file.delete.delay.ms", "60000", true},
    {"flush.messages", "9223372036854775807", true},
    {"flush.ms", "9223372036854775807", true},
    {"max.compaction.lag.ms", "9223372036854775807", true},
    {"max.message.bytes", "1048588", true},
    {"message.timestamp.type", "CreateTime", false},
    {"min.cleanable.dirty.ratio", "0.5", false},
    {"min.compaction.lag.ms", "0", true},
    {"min.insync.replicas", "1", true},
    {"retention.bytes", "-1", true},
    {"retention.ms", "604800000", true},
    {"segment.bytes", "1073741824", true},
    {"segment.ms", "604800000", true},
    {"unclean.leader.election.enable", "false", false},
};

}  // namespace

std::vector<TopicConfig::Entry> TopicConfig::entries() const {
  std::vector<Entry> out;
  for (const auto& def : kConfigs) {
    auto it = set.find(def.name);
    if (it != set.end()) out.push_back({def.name, it->second, false});
    else out.push_back({def.name, def.default_value, true});
  }
  return out;
}

Expected<TopicConfig, LogError> TopicConfig::parse(const std::map<std::string, std::string>& configs) {
  TopicConfig cfg;
  for (const auto& [name, value] : configs) {
    const ConfigDef* def = nullptr;
    for (const auto& d : kConfigs)
      if (name == d.name) def = &d;
    if (!def) return LogError::kInvalidConfig;
    std::optional<std::int64_t> n;
    if (def->numeric && !(n = parse_int(value))) return LogError::kInvalidConfig;
    if (name == "retention.ms") {
      if (*n < -1) return LogError::kInvalidConfig;
      cfg.retention_ms = *n;
    } else if (name == "max.message.bytes") {
      if (*n < 0 || *n > INT32_MAX) return LogError::kInvalidConfig;
      cfg.max_message_bytes = static_cast<std::int32_t>(*n);
    } else if (name == "message.timestamp.type") {
      if (value != "CreateTime" && value != "LogAppendTime") return LogError::kInvalidConfig;
      cfg.log_append_time = value == "LogAppendTime";
    } else if (name == "cleanup.policy") {
      if (value != "delete" && value != "compact" && value != "compact,delete" && value != "delete,compact")
        return LogError::kInvalidConfig;
    }
    cfg.set[name] = value;
  }
  return cfg;
}

LogEngine::~LogEngine() = default;

Status LogEngine::load(Connection& c) { return load_state(c); }

Status LogEngine::load_state(Connection& c) {
  topics_.clear();
  auto topics = storage::load_topic_rows(c);
  if (!topics) return topics.status();
  auto partitions = storage::load_partition_rows(c);
  if (!partitions) return partitions.status();
  auto producers = storage::load_producer_rows(c);
  if (!producers) return producers.status();
  auto last_topic = storage::load_counter(c, "kafka_topic_id");
  if (!last_topic) return last_topic.status();
  auto last_producer = storage::load_counter(c, "kafka_producer_id");
  if (!last_producer) return last_producer.status();
  last_topic_id_ = last_topic->value_or(0);
  last_producer_id_ = last_producer->value_or(-1);

  std::unordered_map<std::int64_t, Topic*> by_id;
  for (auto& row : *topics) {
    auto t = std::make_unique<Topic>();
    t->id = row.id;
    t->name = row.name;
    auto cfg = TopicConfig::parse(decode_configs(row.configs));
    if (!cfg) return internal_error("kafka topic " + row.name + " has configs esmd cannot read: " + row.configs);
    t->config = std::move(*cfg);
    t->partitions.resize(static_cast<std::size_t>(row.partitions));
    t->created_ms = row.created_ms;
    last_topic_id_ = std::max(last_topic_id_, row.id);
    by_id[row.id] = t.get();
    topics_[row.name] = std::move(t);
  }
  for (const auto& row : *partitions) {
    auto it = by_id.find(row.topic_id);
    if (it == by_id.end() || row.partition < 0 || static_cast<std::size_t>(row.partition) >= it->second->partitions.size())
      return internal_error("kafka partition row without its topic: " + std::to_string(row.topic_id));
    Partition& p = it->second->partitions[static_cast<std::size_t>(row.partition)];
    p.log_start = row.log_start;
    p.next_offset = row.next_offset;
  }
  for (const auto& row : *producers) {
    auto it = by_id.find(row.topic_id);
    if (it == by_id.end() || static_cast<std::size_t>(row.partition) >= it->second->partitions.size()) continue;
    ProducerState& ps = it->second->partitions[static_cast<std::size_t>(row.partition)].producers[row.producer_id];
    ps.epoch = static_cast<std::int16_t>(row.epoch);
    ps.batches = decode_batches(row.batches);
  }
  return Status::ok();
}

Status LogEngine::recover(Connection& c) {
  wake_all();
  return load_state(c);
}

bool LogEngine::valid_topic_name(std::string_view name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
           ch == '_' || ch == '-';
  });
}

Topic* LogEngine::find(std::string_view name) {
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : it->second.get();
}

std::vector<const Topic*> LogEngine::topics() const {
  std::vector<const Topic*> out;
  out.reserve(topics_.size());
  for (const auto& [name, t] : topics_) out.push_back(t.get());
  return out;
}

Expected<Topic*, LogError> LogEngine::create_topic(Connection& c, const std::string& name, int partitions,
                                                   int replication_factor,
                                                   const std::map<std::string, std::string>& configs,
                                                   bool validate_only, std::int64_t now_ms) {
  if (!valid_topic_name(name)) return LogError::kInvalidTopic;
  if (find(name)) return LogError::kTopicAlreadyExists;
  if (partitions == -1) partitions = 1;
  if (partitions < 1 || partitions > kMaxPartitions) return LogError::kInvalidPartitions;
  if (replication_factor != 1 && replication_factor != -1) return LogError::kInvalidReplicationFactor;
  auto cfg = TopicConfig::parse(configs);
  if (!cfg) return cfg.error();
  if (validate_only) return static_cast<Topic*>(nullptr);

  auto t = std::make_unique<Topic>();
  t->id = last_topic_id_ + 1;
  t->name = name;
  t->config = std::move(*cfg);
  t->partitions.resize(static_cast<std::size_t>(partitions));
  t->created_ms = now_ms;
  storage::TopicRow row{t->id, name, partitions, encode_configs(t->config.set), now_ms};
  if (Status s = storage::insert_topic_rows(c, row); !s.is_ok()) {
    spdlog::error("kafka: creating topic {}: {}", name, s.message());
    return LogError::kStorage;
  }
  last_topic_id_ = t->id;
  Topic* out = t.get();
  topics_[name] = std::move(t);
  return out;
}

Expected<void, LogError> LogEngine::delete_topic(Connection& c, const std::string& name) {
  Topic* t = find(name);
  if (!t) return LogError::kUnknownTopicOrPartition;
  if (Status s = storage::delete_topic_rows(c, t->id, name); !s.is_ok()) {
    spdlog::error("kafka: deleting topic {}: {}", name, s.message());
    return LogError::kStorage;
  }
  const std::int64_t id = t->id;
  const int n = static_cast<int>(t->partitions.size());
  topics_.erase(topics_.find(name));
  for (int p = 0; p < n; ++p) wake(id, p);
  return {};
}

Expected<void, LogError> LogEngine::check_sequence(const ProducerState* st, std::int16_t epoch, std::int32_t first_seq,
                                                   std::int32_t last_seq, std::optional<std::int64_t>& duplicate_of) {
  if (!st) return {};  // a producer new to this partition may start anywhere
  if (epoch < st->epoch) return LogError::kInvalidProducerEpoch;
  if (epoch > st->epoch) {
    if (first_seq != 0) return LogError::kOutOfOrderSequence;
    return {};
  }
  for (const auto& b : st->batches)
    if (b.first_seq == first_seq && b.last_seq == last_seq) {
      duplicate_of = b.base_offset;
      return {};
    }
  if (st->batches.empty()) return {};
  const std::int32_t last = st->batches.back().last_seq;
  const std::int32_t expected = last == INT32_MAX ? 0 : last + 1;
  if (first_seq != expected) return LogError::kOutOfOrderSequence;
  return {};
}

Expected<LogEngine::Appended, LogError> LogEngine::append(Connection& c, Topic& t, int partition,
                                                          std::string_view records, std::int64_t now_ms) {
  if (partition < 0 || static_cast<std::size_t>(partition) >= t.partitions.size())
    return LogError::kUnknownTopicOrPartition;
  Partition& p = t.partitions[static_cast<std::size_t>(partition)];
  auto batches = parse_batches(records);
  if (!batches) return batch_error(batches.error());
  if (batches->empty()) return LogError::kCorruptMessage;  // Kafka: a produce without records is corrupt

  // Check every batch before writing any, each against the producer state the batches before
  // it would leave (staged: copies, committed to memory only once every row is written).
  std::unordered_map<std::int64_t, ProducerState> staged;
  std::vector<std::optional<std::int64_t>> duplicates(batches->size());
  std::vector<std::pair<std::int64_t, std::size_t>> staged_at(batches->size(), {-1, 0});  // producer, index
  for (std::size_t i = 0; i < batches->size(); ++i) {
    const BatchInfo& b = (*batches)[i];
    if (b.size - kBatchLogOverhead > static_cast<std::size_t>(t.config.max_message_bytes))
      return LogError::kMessageTooLarge;
    if (b.transactional() || b.control()) return LogError::kInvalidRequest;  // no transactions here
    if (b.producer_id < 0) continue;
    const ProducerState* current = nullptr;
    if (auto sit = staged.find(b.producer_id); sit != staged.end()) current = &sit->second;
    else if (auto pit = p.producers.find(b.producer_id); pit != p.producers.end())
      current = &(staged[b.producer_id] = pit->second);
    const std::int32_t last_seq = static_cast<std::int32_t>(
        (static_cast<std::int64_t>(b.base_sequence) + b.last_offset_delta) % (static_cast<std::int64_t>(INT32_MAX) + 1));
    if (auto ok = check_sequence(current, b.producer_epoch, b.base_sequence, last_seq, duplicates[i]); !ok)
      return ok.error();
    if (duplicates[i]) continue;
    ProducerState& st = staged[b.producer_id];
    if (!current || st.epoch != b.producer_epoch) {
      st.batches.clear();
      st.epoch = b.producer_epoch;
    }
    st.batches.push_back({b.base_sequence, last_seq, -1});
    staged_at[i] = {b.producer_id, st.batches.size() - 1};
  }

  Appended out;
  out.log_append_time = t.config.log_append_time ? now_ms : -1;
  std::int64_t next = p.next_offset;
  for (std::size_t i = 0; i < batches->size(); ++i) {
    const BatchInfo& b = (*batches)[i];
    if (duplicates[i]) {
      if (out.base_offset < 0) out.base_offset = *duplicates[i];
      continue;
    }
    storage::BatchRow row;
    row.bytes.assign(records.data() + b.position, b.size);
    assign_offset(row.bytes.data(), next);
    if (t.config.log_append_time) set_log_append_time(row.bytes.data(), row.bytes.size(), now_ms);
    row.base_offset = next;
    row.last_offset = next + b.last_offset_delta;
    row.max_ts = t.config.log_append_time ? now_ms : b.max_timestamp;
    row.append_ms = now_ms;
    if (Status s = storage::insert_batch_row(c, t.id, partition, row); !s.is_ok()) {
      spdlog::error("kafka: appending to {}-{}: {}", t.name, partition, s.message());
      return LogError::kStorage;
    }
    if (out.base_offset < 0) out.base_offset = next;
    if (staged_at[i].first >= 0) staged[staged_at[i].first].batches[staged_at[i].second].base_offset = next;
    next = row.last_offset + 1;
  }
  for (auto& [pid, st] : staged) {
    while (st.batches.size() > kRetainedProducerBatches) st.batches.pop_front();
    storage::ProducerRow row{t.id, partition, pid, st.epoch, encode_batches(st.batches)};
    if (Status s = storage::save_producer_row(c, row); !s.is_ok()) return LogError::kStorage;
  }
  const bool grew = next != p.next_offset;
  if (grew) {
    if (Status s = storage::save_partition_row(c, {t.id, partition, p.log_start, next}); !s.is_ok())
      return LogError::kStorage;
  }
  for (auto& [pid, st] : staged) p.producers[pid] = std::move(st);
  p.next_offset = next;
  out.log_start = p.log_start;
  if (grew) wake(t.id, partition);
  return out;
}

LogEngine::Read LogEngine::read(Connection& c, const std::string& topic, int partition, std::int64_t offset,
                                std::size_t max_bytes) {
  Read out;
  Topic* t = find(topic);
  if (!t || partition < 0 || static_cast<std::size_t>(partition) >= t->partitions.size()) {
    out.error = LogError::kUnknownTopicOrPartition;
    return out;
  }
  const Partition& p = t->partitions[static_cast<std::size_t>(partition)];
  out.high_watermark = p.next_offset;
  out.log_start = p.log_start;
  if (offset < p.log_start || offset > p.next_offset) {
    out.error = LogError::kOffsetOutOfRange;
    return out;
  }
  if (offset == p.next_offset) return out;
  if (Status s = storage::append_batch_bytes(c, t->id, partition, offset, max_bytes, out.records); !s.is_ok()) {
    spdlog::error("kafka: reading {}-{}: {}", topic, partition, s.message());
    out.error = LogError::kStorage;
    out.records.clear();
  }
  return out;
}

Expected<LogEngine::TimeOffset, LogError> LogEngine::offset_for_time(Connection& c, const Topic& t, int partition,
                                                                     std::int64_t ts_ms) {
  if (partition < 0 || static_cast<std::size_t>(partition) >= t.partitions.size())
    return LogError::kUnknownTopicOrPartition;
  auto row = storage::first_batch_at_time(c, t.id, partition, ts_ms);
  if (!row) return LogError::kStorage;
  if (!*row) return TimeOffset{};
  auto records = decode_records((*row)->bytes);
  if (!records) return TimeOffset{(*row)->base_offset, (*row)->max_ts};  // cannot look inside: the batch's start
  for (const auto& r : *records)
    if (r.timestamp >= ts_ms) return TimeOffset{r.offset, r.timestamp};
  return TimeOffset{};
}

Expected<std::int64_t, LogError> LogEngine::new_producer_id(Connection& c) {
  const std::int64_t id = last_producer_id_ + 1;
  if (Status s = storage::save_counter(c, "kafka_producer_id", id); !s.is_ok()) return LogError::kStorage;
  last_producer_id_ = id;
  return id;
}

Expected<void, LogError> LogEngine::commit_offset(Connection& c, const std::string& group, const CommittedOffset& o,
                                                  std::int64_t now_ms) {
  storage::OffsetRow row{group, o.topic, o.partition, o.offset, o.metadata, now_ms};
  if (Status s = storage::save_offset_row(c, row); !s.is_ok()) return LogError::kStorage;
  return {};
}

Expected<std::vector<LogEngine::CommittedOffset>, LogError> LogEngine::committed_offsets(Connection& c,
                                                                                         const std::string& group) {
  auto rows = storage::load_offset_rows(c, group);
  if (!rows) return LogError::kStorage;
  std::vector<CommittedOffset> out;
  out.reserve(rows->size());
  for (auto& r : *rows) out.push_back({std::move(r.topic), r.partition, r.offset, std::move(r.metadata)});
  return out;
}

Expected<std::vector<std::string>, LogError> LogEngine::offset_groups(Connection& c) {
  auto rows = storage::load_offset_groups(c);
  if (!rows) return LogError::kStorage;
  return std::move(*rows);
}

Expected<void, LogError> LogEngine::delete_group_offsets(Connection& c, const std::string& group) {
  if (Status s = storage::delete_offset_rows(c, group); !s.is_ok()) return LogError::kStorage;
  return {};
}

LogEngine::WaitHandle LogEngine::wait_for_data(const Topic& t, int partition, std::function<void()> cb) {
  db_.assert_on_worker();
  auto handle = std::make_shared<std::function<void()>>(std::move(cb));
  auto& list = waiters_[{t.id, partition}];
  // Drop the waiters whose fetch already ended (timed out) before adding one.
  std::erase_if(list, [](const auto& w) { return w.expired(); });
  list.push_back(handle);
  return handle;
}

void LogEngine::wake(std::int64_t topic_id, int partition) {
  auto it = waiters_.find({topic_id, partition});
  if (it == waiters_.end()) return;
  auto list = std::move(it->second);
  waiters_.erase(it);
  db_.defer([list = std::move(list)](const Status&) {
    for (const auto& w : list)
      if (auto cb = w.lock()) (*cb)();
  });
}

void LogEngine::wake_all() {
  auto all = std::move(waiters_);
  waiters_.clear();
  for (auto& [key, list] : all)
    for (const auto& w : list)
      if (auto cb = w.lock()) (*cb)();
}

std::optional<std::int64_t> LogEngine::tick(Connection& c, std::int64_t now_ms) {
  if (now_ms < next_retention_ms_) return next_retention_ms_;
  next_retention_ms_ = now_ms + kRetentionCheckMs;
  bool anything_to_trim = false;
  for (auto& [name, t] : topics_) {
    if (t->config.retention_ms < 0) continue;
    const std::int64_t cutoff = now_ms - t->config.retention_ms;
    for (int part = 0; part < static_cast<int>(t->partitions.size()); ++part) {
      Partition& p = t->partitions[static_cast<std::size_t>(part)];
      if (p.log_start >= p.next_offset) continue;
      anything_to_trim = true;
      auto rows = storage::oldest_batch_rows(c, t->id, part, kRetentionChunk);
      if (!rows) {
        spdlog::error("kafka: retention of {}-{}: {}", name, part, rows.status().message());
        continue;
      }
      std::int64_t new_start = p.log_start;
      std::size_t expired = 0;
      for (const auto& r : *rows) {
        if (r.append_ms >= cutoff) break;
        new_start = r.last_offset + 1;
        ++expired;
      }
      if (expired == 0) continue;
      if (expired == rows->size() && rows->size() == static_cast<std::size_t>(kRetentionChunk))
        next_retention_ms_ = now_ms;  // more to trim: come back at once
      // The log start first: rows left below it by a failed delete are deleted next time.
      if (Status s = storage::save_partition_row(c, {t->id, part, new_start, p.next_offset}); !s.is_ok()) {
        spdlog::error("kafka: retention of {}-{}: {}", name, part, s.message());
        continue;
      }
      p.log_start = new_start;
      if (Status s = storage::delete_batch_rows_below(c, t->id, part, new_start); !s.is_ok())
        spdlog::error("kafka: retention of {}-{}: {}", name, part, s.message());
    }
  }
  // With nothing that could expire, the worker need not wake for retention: the tick runs at
  // the start of the group that appends next.
  if (!anything_to_trim) return std::nullopt;
  return next_retention_ms_;
}

}  // namespace esm::kafka
