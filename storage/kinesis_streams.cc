#include "storage/kinesis_streams.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "core/codec.h"
#include "storage/json_map.h"

namespace esm::storage {
namespace {

// GCC's 128-bit integer: the hash-key space of Kinesis is [0, 2^128 - 1].
__extension__ typedef unsigned __int128 u128;

constexpr u128 kMaxHash = ~static_cast<u128>(0);

HashKey to_key(u128 v) { return {static_cast<std::uint64_t>(v >> 64), static_cast<std::uint64_t>(v)}; }

std::string to_decimal(u128 v) {
  if (v == 0) return "0";
  std::string out;
  while (v > 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

// nullopt unless s is decimal digits whose value fits in 128 bits.
std::optional<u128> parse_decimal(std::string_view s) {
  if (s.empty() || s.size() > 39) return std::nullopt;
  u128 v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return std::nullopt;
    const auto d = static_cast<unsigned>(ch - '0');
    if (v > (kMaxHash - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

u128 md5_key(std::string_view partition_key) {
  const std::string hex = md5_hex(partition_key);
  u128 v = 0;
  for (char ch : hex) v = (v << 4) | static_cast<unsigned>(ch <= '9' ? ch - '0' : ch - 'a' + 10);
  return v;
}

// The hash-key ranges AWS gives N new shards: each floor(2^128 / N) wide, the last one taking
// the remainder.
std::vector<std::pair<u128, u128>> split_hash_space(int n) {
  const auto un = static_cast<u128>(n);
  const u128 width = kMaxHash / un + (kMaxHash % un == un - 1 ? 1 : 0);  // floor(2^128 / n)
  std::vector<std::pair<u128, u128>> out;
  for (int i = 0; i < n; ++i) {
    const u128 start = width * static_cast<u128>(i);
    const u128 end = i + 1 == n ? kMaxHash : width * static_cast<u128>(i + 1) - 1;
    out.emplace_back(start, end);
  }
  return out;
}

std::string shard_id_of(int index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "shardId-%012d", index);
  return buf;
}

// FNV-1a: an integrity check on sequence numbers and iterators (not a secret: it only tells
// a token esmd made from a mangled or invented one).
std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (char ch : s) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ULL;
  }
  return h;
}

constexpr std::int64_t kMaxStreamId = 999999999999999;  // 15 digits
constexpr int kMaxShardIndex = 999999;                  // 6 digits

// Java's Date.toString() in UTC, as AWS prints times in ExpiredIteratorException.
std::string java_date(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %d %H:%M:%S UTC %Y", &tm);
  return buf;
}

}  // namespace

Status kinesis_error(KinesisError e, std::string message) {
  Code code = Code::kInvalidParameter;
  switch (e) {
    case KinesisError::kResourceNotFound: code = Code::kNotFound; break;
    case KinesisError::kResourceInUse: code = Code::kInUse; break;
    case KinesisError::kValidation: code = Code::kValidation; break;
    default: break;
  }
  return Status(code, std::move(message), static_cast<int>(e));
}

// Layout: "49" | stream id (15 digits) | shard index (6) | record index (20) | check (13).
// The record index comes before the check digits, so within a shard the numbers compare as
// equal-length strings in record order.
std::string sequence_number_of(const Stream& s, int shard, std::int64_t record_index) {
  std::string out(56, '0');
  auto digits = [&](std::size_t pos, std::size_t width, std::uint64_t v) {
    for (std::size_t i = pos + width; i > pos; v /= 10) out[--i] = static_cast<char>('0' + v % 10);
  };
  out[0] = '4';
  out[1] = '9';
  digits(2, 15, static_cast<std::uint64_t>(s.id));
  digits(17, 6, static_cast<std::uint64_t>(shard));
  digits(23, 20, static_cast<std::uint64_t>(record_index));
  digits(43, 13, fnv1a(std::string_view(out).substr(0, 43)) % 10000000000000ULL);
  return out;
}

std::optional<SequenceParts> parse_sequence_number(std::string_view seq) {
  if (seq.size() != 56 || !seq.starts_with("49")) return std::nullopt;
  for (char ch : seq)
    if (ch < '0' || ch > '9') return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len) {
    std::int64_t v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) v = v * 10 + (seq[i] - '0');
    return v;
  };
  const std::string_view head = seq.substr(0, 43);
  char check[16];
  std::snprintf(check, sizeof check, "%013llu", static_cast<unsigned long long>(fnv1a(head) % 10000000000000ULL));
  if (seq.substr(43) != check) return std::nullopt;
  if (seq[23] != '0') return std::nullopt;  // record indexes are int64: 19 digits
  // ... and at most INT64_MAX: compared as digit strings of one length, before num() would
  // overflow on a crafted number.
  if (seq.substr(24, 19) > std::string_view("9223372036854775807")) return std::nullopt;
  SequenceParts p;
  p.stream_id = num(2, 15);
  p.shard = static_cast<int>(num(17, 6));
  p.record_index = num(24, 19);
  return p;
}

StreamEngine::~StreamEngine() = default;

Status StreamEngine::load(Connection& c, std::int64_t now_ms) {
  (void)now_ms;
  Statement& ss = c.prepare(
      "SELECT id, region, account, name, mode, retention_hours, created_ms, tags FROM kinesis_streams");
  while (ss.step()) {
    auto s = std::make_unique<Stream>();
    s->id = ss.int64(0);
    s->region = ss.text(1);
    s->account = ss.text(2);
    s->name = ss.text(3);
    s->mode = ss.text(4);
    s->retention_hours = ss.int32(5);
    s->created_ms = ss.int64(6);
    s->tags = decode_string_map(ss.text(7));
    s->arn = "arn:aws:kinesis:" + s->region + ":" + s->account + ":stream/" + s->name;
    next_stream_id_ = std::max(next_stream_id_, s->id + 1);
    by_arn_[s->arn] = s.get();
    by_id_[s->id] = s.get();
    streams_[{s->region, s->name}] = std::move(s);
  }
  if (!ss.status().is_ok()) return ss.status();
  ss.reset();

  Statement& sh = c.prepare(
      "SELECT stream_id, shard_index, hash_start, hash_end, next_index FROM kinesis_shards "
      "ORDER BY stream_id, shard_index");
  while (sh.step()) {
    auto it = by_id_.find(sh.int64(0));
    if (it == by_id_.end()) continue;
    Shard shard;
    shard.index = sh.int32(1);
    shard.id = shard_id_of(shard.index);
    shard.hash_start = sh.text(2);
    shard.hash_end = sh.text(3);
    shard.next_index = sh.int64(4);
    shard.start_key = to_key(parse_decimal(shard.hash_start).value_or(0));
    if (shard.index != static_cast<int>(it->second->shards.size()))
      return internal_error("kinesis: stream " + it->second->name + " has a gap in its shards");
    it->second->shards.push_back(std::move(shard));
  }
  if (!sh.status().is_ok()) return sh.status();
  sh.reset();

  // next_index is written when records are trimmed; a put only inserts its record, so the
  // stored value may lag the last record.
  Statement& rs = c.prepare(
      "SELECT stream_id, shard_index, record_index, partition_key, data, arrival_ms FROM kinesis_records "
      "ORDER BY stream_id, shard_index, record_index");
  std::size_t n = 0;
  Stream* cur = nullptr;
  while (rs.step()) {
    const std::int64_t sid = rs.int64(0);
    if (!cur || cur->id != sid) {
      auto it = by_id_.find(sid);
      cur = it == by_id_.end() ? nullptr : it->second;
    }
    if (!cur) continue;
    const int shard = rs.int32(1);
    if (shard < 0 || shard >= static_cast<int>(cur->shards.size())) continue;
    Shard& target = cur->shards[static_cast<std::size_t>(shard)];
    StreamRecord r;
    r.index = rs.int64(2);
    r.sequence_number = sequence_number_of(*cur, shard, r.index);
    r.partition_key = rs.text(3);
    r.data = rs.blob(4);
    r.arrival_ms = rs.int64(5);
    if (!target.records.empty() && r.index != target.records.back().index + 1)
      return internal_error("kinesis: shard " + target.id + " of " + cur->name + " has a gap in its records");
    target.next_index = std::max(target.next_index, r.index + 1);
    target.records.push_back(std::move(r));
    ++n;
  }
  if (!rs.status().is_ok()) return rs.status();
  rs.reset();
  // Ids are never reused, not even those of deleted streams: sequence numbers carry them.
  Statement& last = c.prepare("SELECT value FROM counters WHERE name = 'kinesis_stream_id'");
  if (last.step()) next_stream_id_ = std::max(next_stream_id_, last.int64(0) + 1);
  last.reset();
  trim_dirty_ = true;
  if (!streams_.empty()) spdlog::info("kinesis: loaded {} streams, {} records", streams_.size(), n);
  return Status::ok();
}

Stream* StreamEngine::find_by_arn(const std::string& arn) {
  auto it = by_arn_.find(arn);
  return it == by_arn_.end() ? nullptr : it->second;
}

Stream* StreamEngine::find_by_id(std::int64_t id) {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

Result<Stream*> StreamEngine::find(const std::string& region, const std::string& name) {
  auto it = streams_.find({region, name});
  if (it == streams_.end())
    return kinesis_error(KinesisError::kResourceNotFound,
                         "Stream " + name + " under account " + account_ + " not found.");
  return it->second.get();
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

Status StreamEngine::persist_stream(Connection& c, const Stream& s) {
  Statement& st = c.prepare(
      "REPLACE INTO kinesis_streams(id, region, account, name, mode, retention_hours, created_ms, tags, extra) "
      "VALUES(?,?,?,?,?,?,?,?,'{}')");
  st.bind(1, s.id)
      .bind(2, s.region)
      .bind(3, s.account)
      .bind(4, s.name)
      .bind(5, s.mode)
      .bind(6, s.retention_hours)
      .bind(7, s.created_ms)
      .bind(8, encode_string_map(s.tags));
  return st.run();
}

Result<Stream*> StreamEngine::create_stream(Connection& c, const std::string& region, const std::string& name,
                                            int shard_count, const std::string& mode,
                                            const std::map<std::string, std::string>& tags, std::int64_t now_ms) {
  if (streams_.count({region, name}))
    return kinesis_error(KinesisError::kResourceInUse,
                         "Stream " + name + " under account " + account_ + " already exists.");
  if (shard_count < 1) return kinesis_error(KinesisError::kInvalidArgument, "ShardCount must be at least 1.");
  const int current = total_shards();
  if (shard_count > kMaxShards - current)
    return kinesis_error(KinesisError::kLimitExceeded,
                         "This request would exceed the shard limit for the account " + account_ + " in " + region +
                             ". Current shard count for the account: " + std::to_string(current) +
                             ". Limit: " + std::to_string(kMaxShards) +
                             ". Number of additional shards that would have resulted from this request: " +
                             std::to_string(shard_count) +
                             ". Refer to the AWS Service Limits page (https://docs.aws.amazon.com/general/latest/gr/"
                             "aws_service_limits.html) for current limits and how to request higher limits.");
  if (next_stream_id_ > kMaxStreamId) return internal_error("kinesis: out of stream ids");
  auto s = std::make_unique<Stream>();
  s->id = next_stream_id_++;
  s->region = region;
  s->account = account_;
  s->name = name;
  s->arn = "arn:aws:kinesis:" + region + ":" + account_ + ":stream/" + name;
  s->mode = mode;
  s->status = "ACTIVE";
  s->created_ms = now_ms;
  s->tags = tags;
  if (Status st = persist_stream(c, *s); !st.is_ok()) return st;
  Statement& counter = c.prepare("REPLACE INTO counters(name, value) VALUES('kinesis_stream_id', ?)");
  counter.bind(1, s->id);
  if (Status st = counter.run(); !st.is_ok()) return st;
  Statement& ins = c.prepare(
      "INSERT INTO kinesis_shards(stream_id, shard_index, hash_start, hash_end, next_index) VALUES(?,?,?,?,0)");
  int i = 0;
  for (const auto& [start, end] : split_hash_space(shard_count)) {
    Shard shard;
    shard.index = i++;
    shard.id = shard_id_of(shard.index);
    shard.hash_start = to_decimal(start);
    shard.hash_end = to_decimal(end);
    shard.start_key = to_key(start);
    ins.bind(1, s->id).bind(2, shard.index).bind(3, shard.hash_start).bind(4, shard.hash_end);
    if (Status st = ins.run(); !st.is_ok()) return st;
    s->shards.push_back(std::move(shard));
  }
  Stream* raw = s.get();
  by_arn_[raw->arn] = raw;
  by_id_[raw->id] = raw;
  streams_[{region, name}] = std::move(s);
  return raw;
}

Status StreamEngine::delete_stream(Connection& c, Stream& s) {
  for (const char* sql : {"DELETE FROM kinesis_records WHERE stream_id = ?", "DELETE FROM kinesis_shards WHERE stream_id = ?",
                          "DELETE FROM kinesis_streams WHERE id = ?"}) {
    Statement& st = c.prepare(sql);
    st.bind(1, s.id);
    if (Status r = st.run(); !r.is_ok()) return r;
  }
  for (auto it = waiters_.lower_bound({s.id, 0}); it != waiters_.end() && it->first.first == s.id;) {
    for (auto& w : it->second) db_.defer([cb = std::move(w.cb)](const Status&) { cb(); });
    it = waiters_.erase(it);
  }
  for (auto it = usage_.lower_bound({s.id, 0}); it != usage_.end() && it->first.first == s.id;) it = usage_.erase(it);
  by_arn_.erase(s.arn);
  by_id_.erase(s.id);
  streams_.erase({s.region, s.name});  // destroys s
  return Status::ok();
}

int StreamEngine::shard_for(const Stream& s, const PutInput& in) const {
  const u128 key = in.explicit_hash_key.empty() ? md5_key(in.partition_key)
                                                : parse_decimal(in.explicit_hash_key).value_or(0);
  const HashKey k = to_key(key);
  // Shards are sorted by their starting hash key and cover the space without gaps.
  auto it = std::upper_bound(s.shards.begin(), s.shards.end(), k,
                             [](const HashKey& v, const Shard& sh) { return v < sh.start_key; });
  return it == s.shards.begin() ? 0 : static_cast<int>(std::distance(s.shards.begin(), it)) - 1;
}

Status StreamEngine::validate_put(const PutInput& in) {
  if (in.partition_key.size() + in.data.size() > kMaxRecordBytes)
    return kinesis_error(KinesisError::kInvalidArgument,
                         "Record size exceeds the maximum allowed record size of 1048576 bytes (data and partition "
                         "key together): " + std::to_string(in.partition_key.size() + in.data.size()) + " bytes.");
  if (!in.explicit_hash_key.empty() && !parse_decimal(in.explicit_hash_key))
    return kinesis_error(KinesisError::kInvalidArgument,
                         "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value "
                         "was " + in.explicit_hash_key);
  return Status::ok();
}

Result<StreamEngine::PutResult> StreamEngine::put(Connection& c, Stream& s, PutInput in, std::int64_t now_ms) {
  if (Status v = validate_put(in); !v.is_ok()) return v;
  const int shard = shard_for(s, in);
  Shard& sh = s.shards[static_cast<std::size_t>(shard)];
  if (shard_limits_) {
    Usage& u = usage_[{s.id, shard}];
    if (u.second != now_ms / 1000) u = Usage{now_ms / 1000, 0, 0};
    const auto bytes = static_cast<std::int64_t>(in.data.size() + in.partition_key.size());
    if (u.records + 1 > 1000 || u.bytes + bytes > 1048576)
      return kinesis_error(KinesisError::kProvisionedThroughputExceeded,
                           "Rate exceeded for shard " + sh.id + " in stream " + s.name + " under account " + s.account +
                               ".");
    u.records += 1;
    u.bytes += bytes;
  }
  StreamRecord r;
  r.index = sh.next_index;
  r.sequence_number = sequence_number_of(s, shard, r.index);
  r.partition_key = std::move(in.partition_key);
  r.data = std::move(in.data);
  r.arrival_ms = now_ms;
  Statement& st = c.prepare(
      "INSERT INTO kinesis_records(stream_id, shard_index, record_index, partition_key, data, arrival_ms) "
      "VALUES(?,?,?,?,?,?)");
  st.bind(1, s.id).bind(2, shard).bind(3, r.index).bind(4, r.partition_key).bind_blob(5, r.data).bind(6, r.arrival_ms);
  if (Status w = st.run(); !w.is_ok()) return w;
  PutResult out{shard, r.index, r.sequence_number};
  sh.records.push_back(std::move(r));
  ++sh.next_index;
  if (!waiters_.empty()) serve_waiters(s, shard);
  // The first record of a shard starts a retention clock the tick must learn about.
  if (sh.records.size() == 1) {
    const std::int64_t due = now_ms + static_cast<std::int64_t>(s.retention_hours) * 3600 * 1000;
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
  if (i < sh.next_index) out.records.reserve(static_cast<std::size_t>(std::min<std::int64_t>(sh.next_index - i, max_records)));
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
  for (auto w = keep; w != list.end(); ++w) db_.defer([cb = std::move(w->cb)](const Status&) { cb(); });
  list.erase(keep, list.end());
  if (list.empty()) waiters_.erase(it);
}

Status StreamEngine::add_tags(Connection& c, Stream& s, const std::map<std::string, std::string>& tags) {
  auto merged = s.tags;
  for (const auto& [k, v] : tags) merged[k] = v;
  if (merged.size() > 50)
    return kinesis_error(KinesisError::kLimitExceeded,
                         "Failed to add tags to stream " + s.name + " under account " + s.account +
                             " because a given stream cannot have more than 50 tags.");
  s.tags = std::move(merged);
  return persist_stream(c, s);
}

Status StreamEngine::remove_tags(Connection& c, Stream& s, const std::vector<std::string>& keys) {
  for (const auto& k : keys) s.tags.erase(k);
  return persist_stream(c, s);
}

Status StreamEngine::set_retention(Connection& c, Stream& s, int hours, bool increase) {
  if (hours < 24)
    return kinesis_error(KinesisError::kInvalidArgument,
                         "Minimum allowed retention period is 24 hours. Requested retention period (" +
                             std::to_string(hours) + " hours) is too short.");
  if (hours > 8760)
    return kinesis_error(KinesisError::kInvalidArgument,
                         "Maximum allowed retention period is 8760 hours. Requested retention period (" +
                             std::to_string(hours) + " hours) is too long.");
  if (increase && hours < s.retention_hours)
    return kinesis_error(KinesisError::kInvalidArgument,
                         "Requested retention period (" + std::to_string(hours) + " hours) for stream " + s.name +
                             " can not be shorter than existing retention period (" +
                             std::to_string(s.retention_hours) + " hours). Use DecreaseRetentionPeriod API.");
  if (!increase && hours > s.retention_hours)
    return kinesis_error(KinesisError::kInvalidArgument,
                         "Requested retention period (" + std::to_string(hours) + " hours) for stream " + s.name +
                             " can not be longer than existing retention period (" +
                             std::to_string(s.retention_hours) + " hours). Use IncreaseRetentionPeriod API.");
  s.retention_hours = hours;
  trim_dirty_ = true;
  db_.poke();
  return persist_stream(c, s);
}

std::string StreamEngine::make_iterator(const Stream& s, int shard, std::int64_t index, std::int64_t now_ms) const {
  std::string body = "1:" + std::to_string(s.id) + ":" + std::to_string(s.created_ms) + ":" + std::to_string(shard) +
                     ":" + std::to_string(index) + ":" + std::to_string(now_ms);
  body += ":" + std::to_string(fnv1a(body));
  return base64_encode(body);
}

Result<StreamEngine::IteratorPosition> StreamEngine::open_iterator(const std::string& token, std::int64_t now_ms) {
  const Status invalid = kinesis_error(KinesisError::kInvalidArgument, "Invalid ShardIterator.");
  auto raw = base64_decode(token);
  if (!raw) return invalid;
  std::vector<std::string> parts;
  std::string_view rest = *raw;
  while (true) {
    const auto colon = rest.find(':');
    parts.emplace_back(rest.substr(0, colon));
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  if (parts.size() != 7 || parts[0] != "1") return invalid;
  const std::string body = raw->substr(0, raw->rfind(':'));
  if (parts[6] != std::to_string(fnv1a(body))) return invalid;
  std::int64_t v[5];
  for (int i = 0; i < 5; ++i) {
    const std::string& p = parts[static_cast<std::size_t>(i) + 1];
    if (p.empty() || p.size() > 18 || p.find_first_not_of("0123456789") != std::string::npos) return invalid;
    v[i] = std::stoll(p);
  }
  const std::int64_t issued = v[4];
  if (now_ms - issued > kIteratorTtlMs)
    return kinesis_error(KinesisError::kExpiredIterator,
                         "Iterator expired. The iterator was created at time " + java_date(issued) +
                             " while right now it is " + java_date(now_ms) +
                             " which is further in the future than the tolerated delay of " +
                             std::to_string(kIteratorTtlMs) + " milliseconds.");
  // The check above tells a token esmd made from a mangled one, not from a forged one: every
  // field is checked again.
  auto it = by_id_.find(v[0]);
  if (it == by_id_.end() || it->second->created_ms != v[1] ||
      v[2] >= static_cast<std::int64_t>(it->second->shards.size()))
    return kinesis_error(KinesisError::kResourceNotFound,
                         "Shard " + shard_id_of(static_cast<int>(std::min<std::int64_t>(v[2], kMaxShardIndex))) +
                             " in stream with id " + std::to_string(v[0]) + " under account " + account_ +
                             " does not exist");
  return IteratorPosition{it->second, static_cast<int>(v[2]), v[3]};
}

void StreamEngine::trim(Connection& c, Stream& s, std::int64_t now_ms) {
  const std::int64_t keep_ms = static_cast<std::int64_t>(s.retention_hours) * 3600 * 1000;
  for (auto& sh : s.shards) {
    bool trimmed = false;
    while (!sh.records.empty() && sh.records.front().arrival_ms + keep_ms <= now_ms) {
      sh.records.pop_front();
      trimmed = true;
    }
    if (!trimmed) continue;
    Statement& del = c.prepare("DELETE FROM kinesis_records WHERE stream_id = ? AND shard_index = ? AND record_index < ?");
    del.bind(1, s.id).bind(2, sh.index).bind(3, sh.first_index());
    if (Status st = del.run(); !st.is_ok()) spdlog::error("kinesis: trim of {}: {}", s.name, st.message());
    Statement& upd = c.prepare("UPDATE kinesis_shards SET next_index = ? WHERE stream_id = ? AND shard_index = ?");
    upd.bind(1, sh.next_index).bind(2, s.id).bind(3, sh.index);
    if (Status st = upd.run(); !st.is_ok()) spdlog::error("kinesis: trim of {}: {}", s.name, st.message());
  }
}

std::optional<std::int64_t> StreamEngine::tick(Connection& c, std::int64_t now_ms) {
  if (!trim_dirty_ && (!next_trim_ms_ || *next_trim_ms_ > now_ms)) return next_trim_ms_;
  trim_dirty_ = false;
  next_trim_ms_.reset();
  for (auto& [_, s] : streams_) {
    trim(c, *s, now_ms);
    const std::int64_t keep_ms = static_cast<std::int64_t>(s->retention_hours) * 3600 * 1000;
    for (const auto& sh : s->shards) {
      if (sh.records.empty()) continue;
      const std::int64_t due = sh.records.front().arrival_ms + keep_ms;
      if (!next_trim_ms_ || due < *next_trim_ms_) next_trim_ms_ = due;
    }
  }
  return next_trim_ms_;
}

}  // namespace esm::storage
