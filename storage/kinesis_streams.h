#pragma once
// StreamEngine: esmd's Kinesis-compatible streams. Streams, shards and records live in memory
// for speed and in SQLite for durability (tables kinesis_streams, kinesis_shards,
// kinesis_records): a PutRecord(s) is written in the DbWorker job that makes it, so it is
// committed before the client hears of it.
//
// Positions: each record has an index in its shard (0, 1, 2, ... never reused, kept across
// trims and restarts). Its sequence number is a 56-digit decimal string derived from
// (stream id, shard index, record index) that increases with the index, so sequence numbers of
// one shard compare as equal-length strings (sequence_number_of / parse_sequence_number).
// The pollers work with indexes; the wire sees sequence numbers.
//
// Threading: DbWorker thread only (jobs and the tick). Waiter callbacks run after the commit
// that made the records readable (DbWorker::defer) and must hand off to their own executor.

#include <compare>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "storage/db_worker.h"
#include "storage/sqlite.h"

namespace esm::storage {

// Refines Status codes for the Kinesis wire format (api/kinesis_api.cc maps each to its type).
enum class KinesisError {
  kNone = 0,
  kResourceNotFound,
  kResourceInUse,
  kInvalidArgument,
  kLimitExceeded,
  kExpiredIterator,
  kValidation,
  kProvisionedThroughputExceeded,
};
Status kinesis_error(KinesisError e, std::string message);

struct StreamRecord {
  std::int64_t index = 0;  // position in its shard
  std::string sequence_number;
  std::string partition_key;
  std::string data;  // raw bytes
  std::int64_t arrival_ms = 0;  // ApproximateArrivalTimestamp, epoch ms
};

// A 128-bit hash key (partition keys hash to MD5 as a big-endian number), ordered.
struct HashKey {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  auto operator<=>(const HashKey&) const = default;
};

struct Shard {
  int index = 0;
  std::string id;  // "shardId-000000000000"
  std::string hash_start;  // decimal, inclusive
  std::string hash_end;    // decimal, inclusive
  std::int64_t next_index = 0;  // index the next record gets
  std::deque<StreamRecord> records;  // indexes [next_index - records.size(), next_index)
  HashKey start_key;  // hash_start as a number

  std::int64_t first_index() const { return next_index - static_cast<std::int64_t>(records.size()); }
};

struct Stream {
  std::int64_t id = 0;
  std::string region;
  std::string account;
  std::string name;
  std::string arn;  // arn:aws:kinesis:REGION:ACCOUNT:stream/NAME
  std::string mode = "PROVISIONED";  // or ON_DEMAND
  std::string status = "ACTIVE";
  int retention_hours = 24;
  std::int64_t created_ms = 0;
  std::map<std::string, std::string> tags;
  std::vector<Shard> shards;
};

// One read of a shard.
struct ShardRead {
  std::vector<StreamRecord> records;
  std::int64_t next_index = 0;   // where the next read starts (after the last record returned)
  std::int64_t latest_index = 0; // the shard's next_index at the time of the read
  std::int64_t millis_behind_latest = 0;
};

class StreamEngine {
 public:
  StreamEngine(DbWorker& db, std::string account) : db_(db), account_(std::move(account)) {}
  ~StreamEngine();

  // Loads every stream, shard and record; at start-up, before the worker thread runs.
  Status load(Connection& c, std::int64_t now_ms);

  // A Stream* stays valid until delete_stream() (streams live in unique_ptrs); a caller that
  // waited (a waiter callback, a later job) looks the stream up again by ARN.
  Stream* find_by_arn(const std::string& arn);
  Result<Stream*> find(const std::string& region, const std::string& name);

  // Records of shard `shard` from index `from` (a trimmed index starts at the first retained
  // record), at most max_records and about max_bytes of data (at least one record when any).
  ShardRead read(const Stream& s, int shard, std::int64_t from, int max_records, std::size_t max_bytes,
                 std::int64_t now_ms) const;
  // read() without the copies, for the wire: pointers into the shard, valid until the shard
  // next changes (use them within the same DbWorker job).
  struct ShardSpan {
    std::vector<const StreamRecord*> records;
    std::int64_t next_index = 0;
    std::int64_t latest_index = 0;
    std::int64_t millis_behind_latest = 0;
  };
  ShardSpan peek(const Stream& s, int shard, std::int64_t from, int max_records, std::size_t max_bytes,
                 std::int64_t now_ms) const;
  // The index of the first record that arrived at or after ts_ms (the shard's next_index if none).
  std::int64_t index_at_timestamp(const Stream& s, int shard, std::int64_t ts_ms) const;

  // Calls cb once, after the commit that adds a record at index >= from to the shard (at once,
  // through defer, when one is already there), or when the stream is deleted. Cancelled by
  // cancel_waiters(owner) without a call.
  void wait_for_records(Stream& s, int shard, std::int64_t from, std::string owner, std::function<void()> cb);
  void cancel_waiters(const std::string& owner);

  // ---- The wire operations (api/kinesis_api.cc); the poller needs only the members above. ----

  const std::string& account() const { return account_; }
  Stream* find_by_id(std::int64_t id);
  // Per-shard write limits of AWS (1 MiB/s and 1,000 records/s): off unless switched on, so
  // that benchmarks and tests are not throttled; on, a put over the limit fails with
  // ProvisionedThroughputExceeded.
  void set_shard_limits(bool on) { shard_limits_ = on; }

  // ResourceInUse when the name is taken in the region; LimitExceeded over kMaxShards.
  Result<Stream*> create_stream(Connection& c, const std::string& region, const std::string& name, int shard_count,
                                const std::string& mode, const std::map<std::string, std::string>& tags,
                                std::int64_t now_ms);
  // Removes the stream and its records now; its waiters are called (they find it gone).
  Status delete_stream(Connection& c, Stream& s);
  // The region's streams by name.
  std::vector<const Stream*> list(const std::string& region) const;

  struct PutInput {
    std::string partition_key;
    std::string data;
    std::string explicit_hash_key;  // decimal, empty when absent
  };
  struct PutResult {
    int shard = 0;
    std::int64_t index = 0;
    std::string sequence_number;
  };
  // Checks the limits a put is held to (sizes, hash key range); OK or InvalidArgument.
  static Status validate_put(const PutInput& in);
  // Appends one record to the shard its hash key falls in (validate_put first). The write is
  // part of the current DbWorker job; waiters of the shard are served after its commit.
  Result<PutResult> put(Connection& c, Stream& s, PutInput in, std::int64_t now_ms);
  // The shard whose hash-key range holds MD5(partition key), or the explicit hash key.
  int shard_for(const Stream& s, const PutInput& in) const;

  Status add_tags(Connection& c, Stream& s, const std::map<std::string, std::string>& tags);
  Status remove_tags(Connection& c, Stream& s, const std::vector<std::string>& keys);
  // increase: IncreaseStreamRetentionPeriod (hours must not be lower), else Decrease.
  Status set_retention(Connection& c, Stream& s, int hours, bool increase);

  // Shard iterators: opaque tokens naming (stream, shard, index), valid for kIteratorTtlMs.
  std::string make_iterator(const Stream& s, int shard, std::int64_t index, std::int64_t now_ms) const;
  struct IteratorPosition {
    Stream* stream = nullptr;
    int shard = 0;
    std::int64_t index = 0;
  };
  // InvalidArgument for a token esmd did not make, ExpiredIterator past its lifetime,
  // ResourceNotFound when its stream is gone.
  Result<IteratorPosition> open_iterator(const std::string& token, std::int64_t now_ms);

  // DbWorker tick: drops records past their stream's retention. Returns when it next has work.
  std::optional<std::int64_t> tick(Connection& c, std::int64_t now_ms);

  static constexpr int kMaxShards = 500;  // per account, AWS's default shard quota
  static constexpr int kOnDemandShards = 4;
  static constexpr int kMaxOnDemandStreams = 50;  // AWS's default quota, reported by DescribeLimits
  static constexpr std::int64_t kIteratorTtlMs = 5 * 60 * 1000;
  static constexpr std::size_t kMaxRecordBytes = 1048576;  // data and partition key together

 private:
  struct Waiter {
    std::int64_t from = 0;
    std::string owner;
    std::function<void()> cb;
  };
  // A shard's writes in the current second, for the opt-in limits.
  struct Usage {
    std::int64_t second = -1;
    std::int64_t records = 0;
    std::int64_t bytes = 0;
  };
  using ShardKey = std::pair<std::int64_t, int>;  // (stream id, shard index)

  Status persist_stream(Connection& c, const Stream& s);
  void serve_waiters(Stream& s, int shard);
  void trim(Connection& c, Stream& s, std::int64_t now_ms);
  int total_shards() const;

  DbWorker& db_;
  std::string account_;
  bool shard_limits_ = false;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Stream>> streams_;  // (region, name)
  std::unordered_map<std::string, Stream*> by_arn_;
  std::unordered_map<std::int64_t, Stream*> by_id_;
  std::int64_t next_stream_id_ = 1;
  std::map<ShardKey, std::vector<Waiter>> waiters_;
  std::map<ShardKey, Usage> usage_;
  std::optional<std::int64_t> next_trim_ms_;
  bool trim_dirty_ = true;
};

// "49" followed by 54 digits; increases with record_index within a shard.
std::string sequence_number_of(const Stream& s, int shard, std::int64_t record_index);
struct SequenceParts {
  std::int64_t stream_id = 0;
  int shard = 0;
  std::int64_t record_index = 0;
};
std::optional<SequenceParts> parse_sequence_number(std::string_view seq);

}  // namespace esm::storage
