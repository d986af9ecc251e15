#include "services/kinesis/stream_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/check.h"

#include "storage/stream_store.h"

namespace esm::kinesis {
namespace {

std::string arn_of(const std::string& region, const std::string& account, const std::string& name) {
  return "arn:aws:kinesis:" + region + ":" + account + ":stream/" + name;
}

std::int64_t retention_ms(const Stream& s) { return static_cast<std::int64_t>(s.retention_hours) * 3600 * 1000; }

}  // namespace

StreamEngine::~StreamEngine() = default;

Status StreamEngine::load(Connection& c) {
  ESM_DCHECK(streams_.empty());
  if (Status s = load_streams(c); !s.is_ok()) return s;

  auto shards = storage::load_shard_rows(c);
  if (!shards) return shards.status();
  for (auto& row : *shards) {
    auto it = by_id_.find(row.stream_id);
    if (it == by_id_.end()) continue;
    Shard shard;
    shard.index = row.shard_index;
    shard.id = shard_id_of(shard.index);
    shard.start_key = parse_hash_key(row.hash_start).value_or(HashKey{});
    shard.hash_start = std::move(row.hash_start);
    shard.hash_end = std::move(row.hash_end);
    shard.next_index = row.next_index;
    if (shard.index != static_cast<int>(it->second->shards.size()))
      return internal_error("kinesis: stream " + it->second->name + " has a gap in its shards");
    it->second->shards.push_back(std::move(shard));
  }

  // next_index is written when records are trimmed; a put only inserts its record, so the
  // stored value may lag the last record.
  std::size_t n = 0;
  Stream* cur = nullptr;
  Status records = storage::for_each_record_row(c, [&](storage::RecordRow&& row) -> Status {
    if (!cur || cur->id != row.stream_id) cur = find_by_id(row.stream_id);
    if (!cur || row.shard_index < 0 || row.shard_index >= static_cast<int>(cur->shards.size())) return Status::ok();
    Shard& target = cur->shards[static_cast<std::size_t>(row.shard_index)];
    StreamRecord r;
    r.index = row.record_index;
    r.sequence_number = sequence_number_of(cur->id, row.shard_index, r.index);
    r.partition_key = std::move(row.partition_key);
    r.data = std::move(row.data);
    r.arrival_ms = row.arrival_ms;
    if (!target.records.empty() && r.index != target.records.back().index + 1)
      return internal_error("kinesis: shard " + target.id + " of " + cur->name + " has a gap in its records");
    target.next_index = std::max(target.next_index, r.index + 1);
    target.records.push_back(std::move(r));
    ++n;
    return Status::ok();
  });
  if (!records.is_ok()) return records;

  // Ids are never reused, not even those of deleted streams: sequence numbers carry them.
  auto last = storage::load_last_stream_id(c);
  if (!last) return last.status();
  if (*last) next_stream_id_ = std::max(next_stream_id_, **last + 1);
  trim_dirty_ = true;
  if (!streams_.empty()) spdlog::info("kinesis: loaded {} streams, {} records", streams_.size(), n);
  return Status::ok();
}

Status StreamEngine::load_streams(Connection& c) {
  auto rows = storage::load_stream_rows(c);
  if (!rows) return rows.status();
  for (auto& row : *rows) {
    auto s = std::make_unique<Stream>();
    s->id = row.id;
    s->region = std::move(row.region);
    s->account = std::move(row.account);
    s->name = std::move(row.name);
    s->mode = std::move(row.mode);
    s->retention_hours = row.retention_hours;
    s->created_ms = row.created_ms;
    s->tags = std::move(row.tags);
    s->arn = arn_of(s->region, s->account, s->name);
    next_stream_id_ = std::max(next_stream_id_, s->id + 1);
    by_arn_[s->arn] = s.get();
    by_id_[s->id] = s.get();
    streams_[{s->region, s->name}] = std::move(s);
  }
  return Status::ok();
}

void StreamEngine::clear() {
  waiters_.clear();
  usage_.clear();
  by_arn_.clear();
  by_id_.clear();
  streams_.clear();
  next_stream_id_ = 1;
  next_trim_ms_.reset();
  trim_dirty_ = true;
}

Status StreamEngine::recover(Connection& c) {
  db_.assert_on_worker();
  // A waiter's poller re-reads from its cursor and finds what the disk holds; a record the
  // failed group appended is gone again, and its index is handed out anew.
  auto waiters = std::move(waiters_);
  clear();
  for (auto& [_, list] : waiters)
    for (auto& w : list) w.cb();
  return load(c);
}

Stream* StreamEngine::find_by_arn(const std::string& arn) {
  auto it = by_arn_.find(arn);
  return it == by_arn_.end() ? nullptr : it->second;
}

Stream* StreamEngine::find_by_id(std::int64_t id) {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

Expected<Stream*> StreamEngine::find(const std::string& region, const std::string& name) {
  auto it = streams_.find({region, name});
  if (it == streams_.end()) {
    KinesisError e(ErrorKind::kStreamNotFound);
    e.stream = name;
    e.account = account_;
    return e;
  }
  return it->second.get();
}

Expected<Stream*> StreamEngine::resolve(const std::string& region, const std::optional<std::string>& name,
                                        const std::optional<std::string>& arn) {
  if (arn) {
    Stream* s = find_by_arn(*arn);
    if (!s) {
      const auto slash = arn->find(":stream/");
      KinesisError e(ErrorKind::kStreamNotFound);
      e.stream = slash == std::string::npos ? *arn : arn->substr(slash + 8);
      e.account = account_;
      return e;
    }
    if (name && *name != s->name) {
      KinesisError e(ErrorKind::kArnNameMismatch);
      e.value = *arn;
      e.stream = *name;
      return e;
    }
    return s;
  }
  if (!name) return KinesisError(ErrorKind::kStreamUnnamed);
  return find(region, *name);
}

std::vector<const Stream*> StreamEngine::list(const std::string& region) const {
  std::vector<const Stream*> out;
  for (auto it = streams_.lower_bound({region, ""}); it != streams_.end() && it->first.first == region; ++it)
    out.push_back(it->second.get());
  return out;
}

int StreamEngine::total_shards() const {
  int n = 0;
  for (const auto& [_, s] : streams_) n += static_cast<int>(s->shards.size());
  return n;
}

KinesisError StreamEngine::error(ErrorKind kind, const Stream& s) const {
  KinesisError e(kind);
  e.stream = s.name;
  e.account = s.account;
  return e;
}

storage::StreamRow StreamEngine::row_of(const Stream& s) {
  return {s.id, s.region, s.account, s.name, s.mode, s.retention_hours, s.created_ms, s.tags};
}

Expected<StreamEngine::StreamShape> StreamEngine::shape_of(std::optional<std::int64_t> shard_count,
                                                           std::optional<std::string> mode) {
  if (!mode) mode = shard_count ? "PROVISIONED" : "ON_DEMAND";
  if (*mode == "PROVISIONED" && !shard_count) return KinesisError(ErrorKind::kShardCountRequired);
  if (*mode == "ON_DEMAND" && shard_count) return KinesisError(ErrorKind::kShardCountNotSupported);
  return StreamShape{*mode, shard_count ? static_cast<int>(*shard_count) : kOnDemandShards};
}

Expected<Stream*> StreamEngine::create_stream(Connection& c, const std::string& region, const std::string& name,
                                              int shard_count, const std::string& mode,
                                              const std::map<std::string, std::string>& tags, std::int64_t now_ms) {
  if (streams_.count({region, name})) {
    KinesisError e(ErrorKind::kStreamExists);
    e.stream = name;
    e.account = account_;
    return e;
  }
  if (shard_count < 1) {
    KinesisError e(ErrorKind::kShardCountTooLow);
    e.requested = shard_count;
    return e;
  }
  const int current = total_shards();
  if (shard_count > kMaxShards - current) {
    KinesisError e(ErrorKind::kShardLimitExceeded);
    e.account = account_;
    e.region = region;
    e.current = current;
    e.limit = kMaxShards;
    e.requested = shard_count;
    return e;
  }
  if (next_stream_id_ > kMaxStreamId) return KinesisError(internal_error("kinesis: out of stream ids"));
  auto s = std::make_unique<Stream>();
  s->id = next_stream_id_;
  s->region = region;
  s->account = account_;
  s->name = name;
  s->arn = arn_of(region, account_, name);
  s->mode = mode;
  s->status = "ACTIVE";
  s->created_ms = now_ms;
  s->tags = tags;
  std::vector<storage::ShardRow> rows;
  int i = 0;
  for (auto& range : split_hash_space(shard_count)) {
    Shard shard;
    shard.index = i++;
    shard.id = shard_id_of(shard.index);
    shard.hash_start = std::move(range.start_decimal);
    shard.hash_end = std::move(range.end_decimal);
    shard.start_key = range.start;
    rows.push_back({s->id, shard.index, shard.hash_start, shard.hash_end, 0});
    s->shards.push_back(std::move(shard));
  }
  if (Status st = storage::insert_stream_rows(c, row_of(*s), rows); !st.is_ok()) return KinesisError(st);
  ++next_stream_id_;
  Stream* raw = s.get();
  by_arn_[raw->arn] = raw;
  by_id_[raw->id] = raw;
  streams_[{region, name}] = std::move(s);
  return raw;
}

Expected<void> StreamEngine::delete_stream(Connection& c, Stream& s) {
  if (Status st = storage::delete_stream_rows(c, s.id); !st.is_ok()) return KinesisError(st);
  for (auto it = waiters_.lower_bound({s.id, 0}); it != waiters_.end() && it->first.first == s.id;) {
    for (auto& w : it->second) db_.defer([cb = std::move(w.cb)](const Status&) { cb(); });
    it = waiters_.erase(it);
  }
  for (auto it = usage_.lower_bound({s.id, 0}); it != usage_.end() && it->first.first == s.id;) it = usage_.erase(it);
  by_arn_.erase(s.arn);
  by_id_.erase(s.id);
  streams_.erase({s.region, s.name});  // destroys s
  return {};
}

int StreamEngine::shard_for(const Stream& s, const PutInput& in) const {
  const HashKey k = in.explicit_hash_key.empty() ? hash_of_partition_key(in.partition_key)
                                                 : parse_hash_key(in.explicit_hash_key).value_or(HashKey{});
  // Shards are sorted by their starting hash key and cover the space without gaps.
  auto it = std::upper_bound(s.shards.begin(), s.shards.end(), k,
                             [](const HashKey& v, const Shard& sh) { return v < sh.start_key; });
  return it == s.shards.begin() ? 0 : static_cast<int>(std::distance(s.shards.begin(), it)) - 1;
}

Expected<void> StreamEngine::validate_put(const PutInput& in) {
  if (in.partition_key.size() + in.data.size() > kMaxRecordBytes) {
    KinesisError e(ErrorKind::kRecordTooLarge);
    e.requested = static_cast<std::int64_t>(in.partition_key.size() + in.data.size());
    e.limit = static_cast<std::int64_t>(kMaxRecordBytes);
    return e;
  }
  if (!in.explicit_hash_key.empty() && !parse_hash_key(in.explicit_hash_key)) {
    KinesisError e(ErrorKind::kInvalidHashKey);
    e.value = in.explicit_hash_key;
    return e;
  }
  return {};
}

Expected<void> StreamEngine::take_throughput(const Stream& s, int shard, std::int64_t bytes, std::int64_t now_ms) {
  if (!shard_limits_) return {};
  Usage& u = usage_[{s.id, shard}];
  if (u.second != now_ms / 1000) u = Usage{now_ms / 1000, 0, 0};
  if (u.records + 1 > kShardRecordsPerSecond || u.bytes + bytes > kShardBytesPerSecond) {
    KinesisError e = error(ErrorKind::kThroughputExceeded, s);
    e.shard_id = s.shards[static_cast<std::size_t>(shard)].id;
    return e;
  }
  u.records += 1;
  u.bytes += bytes;
  return {};
}

Expected<StreamEngine::PutResult> StreamEngine::put(Connection& c, Stream& s, PutInput in, std::int64_t now_ms) {
  if (auto v = validate_put(in); !v) return v.error();
  const int shard = shard_for(s, in);
  Shard& sh = s.shards[static_cast<std::size_t>(shard)];
  if (auto t = take_throughput(s, shard, static_cast<std::int64_t>(in.data.size() + in.partition_key.size()), now_ms);
      !t)
    return t.error();
  storage::RecordRow row{s.id, shard, sh.next_index, std::move(in.partition_key), std::move(in.data), now_ms};
  if (Status w = storage::insert_record_row(c, row); !w.is_ok()) return KinesisError(w);
  StreamRecord r;
  r.index = row.record_index;
  r.sequence_number = sequence_number_of(s.id, shard, r.index);
  r.partition_key = std::move(row.partition_key);
  r.data = std::move(row.data);
  r.arrival_ms = now_ms;
  PutResult out{shard, r.index, r.sequence_number};
  sh.records.push_back(std::move(r));
  ++sh.next_index;
  if (!waiters_.empty()) serve_waiters(s, shard);
  // The first record of a shard starts a retention clock the tick must learn about.
  if (sh.records.size() == 1) {
    const std::int64_t due = now_ms + retention_ms(s);
    if (!next_trim_ms_ || due < *next_trim_ms_) {
      next_trim_ms_ = due;
      db_.poke();
    }
  }
  return out;
}

StreamEngine::ShardSpan StreamEngine::peek(const Stream& s, int shard, std::int64_t from, int max_records,
                                           std::size_t max_bytes, std::int64_t now_ms) const {
  ShardSpan out;
  const Shard& sh = s.shards[static_cast<std::size_t>(shard)];
  out.latest_index = sh.next_index;
  const std::int64_t first = sh.first_index();
  std::int64_t i = std::max(from, first);
  std::size_t bytes = 0;
  if (i < sh.next_index)
    out.records.reserve(static_cast<std::size_t>(std::min<std::int64_t>(sh.next_index - i, max_records)));
  while (i < sh.next_index && static_cast<int>(out.records.size()) < max_records) {
    const StreamRecord& r = sh.records[static_cast<std::size_t>(i - first)];
    const std::size_t size = r.data.size() + r.partition_key.size();
    if (!out.records.empty() && bytes + size > max_bytes) break;
    bytes += size;
    out.records.push_back(&r);
    ++i;
  }
  out.next_index = std::max(i, from);
  if (out.next_index < sh.next_index)
    out.millis_behind_latest =
        std::max<std::int64_t>(0, now_ms - sh.records[static_cast<std::size_t>(out.next_index - first)].arrival_ms);
  return out;
}

ShardRead StreamEngine::read(const Stream& s, int shard, std::int64_t from, int max_records, std::size_t max_bytes,
                             std::int64_t now_ms) const {
  const ShardSpan span = peek(s, shard, from, max_records, max_bytes, now_ms);
  ShardRead out;
  out.records.reserve(span.records.size());
  for (const StreamRecord* r : span.records) out.records.push_back(*r);
  out.next_index = span.next_index;
  out.latest_index = span.latest_index;
  out.millis_behind_latest = span.millis_behind_latest;
  return out;
}

std::int64_t StreamEngine::index_at_timestamp(const Stream& s, int shard, std::int64_t ts_ms) const {
  const Shard& sh = s.shards[static_cast<std::size_t>(shard)];
  auto it = std::lower_bound(sh.records.begin(), sh.records.end(), ts_ms,
                             [](const StreamRecord& r, std::int64_t t) { return r.arrival_ms < t; });
  return it == sh.records.end() ? sh.next_index : it->index;
}

void StreamEngine::wait_for_records(Stream& s, int shard, std::int64_t from, std::string owner,
                                    std::function<void()> cb) {
  if (s.shards[static_cast<std::size_t>(shard)].next_index > from) {
    db_.defer([cb = std::move(cb)](const Status&) { cb(); });
    return;
  }
  waiters_[{s.id, shard}].push_back(Waiter{from, std::move(owner), std::move(cb)});
}

void StreamEngine::cancel_waiters(const std::string& owner) {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    auto& list = it->second;
    list.erase(std::remove_if(list.begin(), list.end(), [&](const Waiter& w) { return w.owner == owner; }), list.end());
    it = list.empty() ? waiters_.erase(it) : std::next(it);
  }
}

void StreamEngine::serve_waiters(Stream& s, int shard) {
  auto it = waiters_.find({s.id, shard});
  if (it == waiters_.end()) return;
  const std::int64_t next = s.shards[static_cast<std::size_t>(shard)].next_index;
  auto& list = it->second;
  auto keep = std::stable_partition(list.begin(), list.end(), [&](const Waiter& w) { return w.from >= next; });
  // Called after the commit whatever its outcome: after a failed one the poller re-reads and
  // finds the reloaded shard.
  for (auto w = keep; w != list.end(); ++w) db_.defer([cb = std::move(w->cb)](const Status&) { cb(); });
  list.erase(keep, list.end());
  if (list.empty()) waiters_.erase(it);
}

Expected<void> StreamEngine::add_tags(Connection& c, Stream& s, const std::map<std::string, std::string>& tags) {
  storage::StreamRow row = row_of(s);
  for (const auto& [k, v] : tags) row.tags[k] = v;
  if (row.tags.size() > static_cast<std::size_t>(kMaxTags)) {
    KinesisError e = error(ErrorKind::kTooManyTags, s);
    e.limit = kMaxTags;
    return e;
  }
  // The row first: memory changes only once the database took the change.
  if (Status st = storage::save_stream_row(c, row); !st.is_ok()) return KinesisError(st);
  s.tags = std::move(row.tags);
  return {};
}

Expected<void> StreamEngine::remove_tags(Connection& c, Stream& s, const std::vector<std::string>& keys) {
  storage::StreamRow row = row_of(s);
  for (const auto& k : keys) row.tags.erase(k);
  if (Status st = storage::save_stream_row(c, row); !st.is_ok()) return KinesisError(st);
  s.tags = std::move(row.tags);
  return {};
}

Expected<void> StreamEngine::set_retention(Connection& c, Stream& s, int hours, bool increase) {
  auto refuse = [&](ErrorKind kind, std::int64_t limit) {
    KinesisError e = error(kind, s);
    e.requested = hours;
    e.current = s.retention_hours;
    e.limit = limit;
    return e;
  };
  if (hours < kMinRetentionHours) return refuse(ErrorKind::kRetentionTooShort, kMinRetentionHours);
  if (hours > kMaxRetentionHours) return refuse(ErrorKind::kRetentionTooLong, kMaxRetentionHours);
  if (increase && hours < s.retention_hours) return refuse(ErrorKind::kRetentionNotLonger, 0);
  if (!increase && hours > s.retention_hours) return refuse(ErrorKind::kRetentionNotShorter, 0);
  storage::StreamRow row = row_of(s);
  row.retention_hours = hours;
  if (Status st = storage::save_stream_row(c, row); !st.is_ok()) return KinesisError(st);
  s.retention_hours = hours;
  trim_dirty_ = true;
  db_.poke();
  return {};
}

Expected<int> StreamEngine::shard_index(const Stream& s, const std::string& shard_id) const {
  const auto i = parse_shard_id(shard_id);
  if (!i || *i >= static_cast<std::int64_t>(s.shards.size())) {
    KinesisError e = error(ErrorKind::kShardNotFound, s);
    e.shard_id = shard_id;
    return e;
  }
  return static_cast<int>(*i);
}

Expected<std::int64_t> StreamEngine::start_index(const Stream& s, int shard, IteratorType type,
                                                 const std::optional<std::string>& sequence_number,
                                                 std::optional<std::int64_t> timestamp_ms, std::int64_t now_ms) const {
  const Shard& sh = s.shards[static_cast<std::size_t>(shard)];
  switch (type) {
    case IteratorType::kTrimHorizon: return sh.first_index();
    case IteratorType::kLatest: return sh.next_index;
    case IteratorType::kAtSequenceNumber:
    case IteratorType::kAfterSequenceNumber: {
      if (!sequence_number) {
        KinesisError e(ErrorKind::kSequenceNumberMissing);
        e.value = type == IteratorType::kAtSequenceNumber ? "AT_SEQUENCE_NUMBER" : "AFTER_SEQUENCE_NUMBER";
        return e;
      }
      const auto parts = parse_sequence_number(*sequence_number);
      if (parts && parts->stream_id == s.id && parts->shard != shard) {
        KinesisError e(ErrorKind::kSequenceNumberOtherShard);
        e.shard = parts->shard;
        e.shard_id = sh.id;
        return e;
      }
      if (!parts || parts->stream_id != s.id || parts->record_index >= sh.next_index) {
        KinesisError e = error(ErrorKind::kSequenceNumberInvalid, s);
        e.value = *sequence_number;
        e.shard_id = sh.id;
        return e;
      }
      return parts->record_index + (type == IteratorType::kAfterSequenceNumber ? 1 : 0);
    }
    case IteratorType::kAtTimestamp:
      break;
  }
  if (!timestamp_ms) return KinesisError(ErrorKind::kTimestampMissing);
  if (*timestamp_ms > now_ms) {
    KinesisError e(ErrorKind::kTimestampInFuture);
    e.requested = *timestamp_ms;
    e.now_ms = now_ms;
    return e;
  }
  return index_at_timestamp(s, shard, *timestamp_ms);
}

std::string StreamEngine::make_iterator(const Stream& s, int shard, std::int64_t index, std::int64_t now_ms) const {
  return encode_iterator(IteratorToken{s.id, s.created_ms, shard, index, now_ms});
}

Expected<StreamEngine::IteratorPosition> StreamEngine::open_iterator(const std::string& token, std::int64_t now_ms) {
  const auto t = decode_iterator(token);
  if (!t) return KinesisError(ErrorKind::kInvalidIterator);
  if (now_ms - t->issued_ms > kIteratorTtlMs) {
    KinesisError e(ErrorKind::kIteratorExpired);
    e.issued_ms = t->issued_ms;
    e.now_ms = now_ms;
    e.limit = kIteratorTtlMs;
    return e;
  }
  // The check tells a token esmd made from a mangled one, not from a forged one: every field
  // is checked again.
  Stream* s = find_by_id(t->stream_id);
  if (!s || s->created_ms != t->stream_created_ms || t->shard >= static_cast<std::int64_t>(s->shards.size())) {
    KinesisError e(ErrorKind::kIteratorShardGone);
    e.shard = static_cast<int>(std::min<std::int64_t>(t->shard, kMaxShardIndex));
    e.stream_id = t->stream_id;
    e.account = account_;
    return e;
  }
  return IteratorPosition{s, static_cast<int>(t->shard), t->index};
}

Status StreamEngine::trim(Connection& c, Stream& s, std::int64_t now_ms) {
  const std::int64_t keep_ms = retention_ms(s);
  for (auto& sh : s.shards) {
    std::size_t expired = 0;
    while (expired < sh.records.size() && sh.records[expired].arrival_ms + keep_ms <= now_ms) ++expired;
    if (expired == 0) continue;
    // The rows go first: memory follows only what the database agreed to.
    const std::int64_t first_kept = sh.first_index() + static_cast<std::int64_t>(expired);
    if (Status st = storage::trim_record_rows(c, s.id, sh.index, first_kept, sh.next_index); !st.is_ok()) return st;
    sh.records.erase(sh.records.begin(), sh.records.begin() + static_cast<std::ptrdiff_t>(expired));
  }
  return Status::ok();
}

std::optional<std::int64_t> StreamEngine::tick(Connection& c, std::int64_t now_ms) {
  if (!trim_dirty_ && (!next_trim_ms_ || *next_trim_ms_ > now_ms)) return next_trim_ms_;
  trim_dirty_ = false;
  next_trim_ms_.reset();
  for (auto& [_, s] : streams_) {
    if (Status st = trim(c, *s, now_ms); !st.is_ok()) {
      // The records stay (in memory and on disk) and the trim is tried again soon.
      spdlog::error("kinesis: trim of {}: {}", s->name, st.message());
      next_trim_ms_ = now_ms + kTrimRetryMs;
      return next_trim_ms_;
    }
    const std::int64_t keep_ms = retention_ms(*s);
    for (const auto& sh : s->shards) {
      if (sh.records.empty()) continue;
      const std::int64_t due = sh.records.front().arrival_ms + keep_ms;
      if (!next_trim_ms_ || due < *next_trim_ms_) next_trim_ms_ = due;
    }
  }
  return next_trim_ms_;
}

}  // namespace esm::kinesis
