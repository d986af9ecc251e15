#pragma once
// StreamEngine: esmd's Kinesis-compatible streams. Streams, shards and records live in memory
// for speed and in SQLite for durability (storage/stream_store.h): a PutRecord(s) is written in
// the DbWorker job that makes it, so it is committed before the client hears of it.
//
// Commit rule: the engine changes its memory inside the job, before the commit. When that
// commit fails, DbWorker calls recover(): every waiter is called (its poller re-reads), the
// memory is dropped and reloaded from the disk, so nothing the failed group wrote survives.
// Waiters are only ever called through DbWorker::defer (after a commit) or by recover().
//
// Errors: KinesisError, a kind with structured fields (services/kinesis/error.h); the wording
// is api/'s.
//
// Threading: DbWorker thread only (jobs, the tick and the recovery). Waiter callbacks must
// hand off to their own executor.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "services/kinesis/error.h"
#include "services/kinesis/sequence.h"
#include "services/kinesis/stream.h"
#include "storage/db_worker.h"
#include "storage/sqlite.h"
#include "storage/stream_store.h"

namespace esm::kinesis {

using storage::Connection;

enum class IteratorType { kTrimHorizon, kLatest, kAtSequenceNumber, kAfterSequenceNumber, kAtTimestamp };

class StreamEngine {
 public:
  StreamEngine(storage::DbWorker& db, std::string account) : db_(db), account_(std::move(account)) {}
  ~StreamEngine();

  // Loads every stream, shard and record into an empty engine; at start-up, before the
  // worker thread runs. Internal when a table cannot be read or holds a gap.
  Status load(Connection& c);
  // DbWorker's recovery after a failed commit: calls every waiter, forgets the memory and
  // loads it again from the disk.
  Status recover(Connection& c);

  // A Stream* stays valid until delete_stream() or recover() (streams live in unique_ptrs); a
  // caller that waited (a waiter callback, a later job) looks the stream up again by ARN.
  Stream* find_by_arn(const std::string& arn);
  Stream* find_by_id(std::int64_t id);
  Expected<Stream*> find(const std::string& region, const std::string& name);
  // The stream a request names: its ARN wins over its name, and both must agree.
  Expected<Stream*> resolve(const std::string& region, const std::optional<std::string>& name,
                            const std::optional<std::string>& arn);

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
  // through defer, when one is already there), when the stream is deleted, or when a failed
  // commit made the engine reload. Cancelled by cancel_waiters(owner) without a call.
  void wait_for_records(Stream& s, int shard, std::int64_t from, std::string owner, std::function<void()> cb);
  void cancel_waiters(const std::string& owner);

  // ---- The wire operations (api/kinesis/); the poller needs only the members above. ----

  const std::string& account() const { return account_; }
  // Per-shard write limits of AWS (1 MiB/s and 1,000 records/s): off unless switched on, so
  // that benchmarks and tests are not throttled; on, a put over the limit fails with
  // kThroughputExceeded.
  void set_shard_limits(bool on) { shard_limits_ = on; }

  // The mode and shard count of a new stream from what CreateStream was given: neither makes
  // an on-demand stream (as AWS does since on-demand streams exist).
  struct StreamShape {
    std::string mode;
    int shards = 0;
  };
  static Expected<StreamShape> shape_of(std::optional<std::int64_t> shard_count, std::optional<std::string> mode);
  // kStreamExists when the name is taken in the region; kShardLimitExceeded over kMaxShards.
  Expected<Stream*> create_stream(Connection& c, const std::string& region, const std::string& name, int shard_count,
                                  const std::string& mode, const std::map<std::string, std::string>& tags,
                                  std::int64_t now_ms);
  // Removes the stream and its records now; its waiters are called after the commit (they
  // find it gone).
  Expected<void> delete_stream(Connection& c, Stream& s);
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
  // Checks the limits a put is held to (sizes, hash key range).
  static Expected<void> validate_put(const PutInput& in);
  // Appends one record to the shard its hash key falls in. The write is part of the current
  // DbWorker job; waiters of the shard are served after its commit.
  Expected<PutResult> put(Connection& c, Stream& s, PutInput in, std::int64_t now_ms);
  // The shard whose hash-key range holds MD5(partition key), or the explicit hash key.
  int shard_for(const Stream& s, const PutInput& in) const;

  Expected<void> add_tags(Connection& c, Stream& s, const std::map<std::string, std::string>& tags);
  Expected<void> remove_tags(Connection& c, Stream& s, const std::vector<std::string>& keys);
  // increase: IncreaseStreamRetentionPeriod (hours must not be lower), else Decrease.
  Expected<void> set_retention(Connection& c, Stream& s, int hours, bool increase);

  // The shard named "shardId-NNNNNNNNNNNN"; kShardNotFound otherwise.
  Expected<int> shard_index(const Stream& s, const std::string& shard_id) const;
  // Where an iterator of this type starts: the sequence number (AT/AFTER_SEQUENCE_NUMBER) must
  // be one of this shard's, the time (AT_TIMESTAMP) not in the future.
  Expected<std::int64_t> start_index(const Stream& s, int shard, IteratorType type,
                                     const std::optional<std::string>& sequence_number,
                                     std::optional<std::int64_t> timestamp_ms, std::int64_t now_ms) const;
  // Shard iterators: opaque tokens naming (stream, shard, index), valid for kIteratorTtlMs.
  std::string make_iterator(const Stream& s, int shard, std::int64_t index, std::int64_t now_ms) const;
  struct IteratorPosition {
    Stream* stream = nullptr;
    int shard = 0;
    std::int64_t index = 0;
  };
  // kInvalidIterator for a token esmd did not make, kIteratorExpired past its lifetime,
  // kIteratorShardGone when its stream is gone.
  Expected<IteratorPosition> open_iterator(const std::string& token, std::int64_t now_ms);

  // DbWorker tick: drops records past their stream's retention. Returns when it next has work.
  std::optional<std::int64_t> tick(Connection& c, std::int64_t now_ms);

  static constexpr int kMaxShards = 500;  // per account, AWS's default shard quota
  static constexpr int kOnDemandShards = 4;
  static constexpr int kMaxOnDemandStreams = 50;  // AWS's default quota, reported by DescribeLimits
  static constexpr int kMaxTags = 50;
  static constexpr int kMinRetentionHours = 24;
  static constexpr int kMaxRetentionHours = 8760;
  static constexpr std::int64_t kIteratorTtlMs = 5 * 60 * 1000;
  static constexpr std::size_t kMaxRecordBytes = 1048576;  // data and partition key together
  static constexpr std::int64_t kShardRecordsPerSecond = 1000;
  static constexpr std::int64_t kShardBytesPerSecond = 1048576;
  // How soon the tick tries a trim again after the database refused one.
  static constexpr std::int64_t kTrimRetryMs = 1000;

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

  Status load_streams(Connection& c);
  static storage::StreamRow row_of(const Stream& s);
  KinesisError error(ErrorKind kind, const Stream& s) const;
  Expected<void> take_throughput(const Stream& s, int shard, std::int64_t bytes, std::int64_t now_ms);
  void serve_waiters(Stream& s, int shard);
  Status trim(Connection& c, Stream& s, std::int64_t now_ms);
  void clear();
  int total_shards() const;

  storage::DbWorker& db_;
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

}  // namespace esm::kinesis
