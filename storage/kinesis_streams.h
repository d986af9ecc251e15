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

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
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
};
Status kinesis_error(KinesisError e, std::string message);

struct StreamRecord {
  std::int64_t index = 0;  // position in its shard
  std::string sequence_number;
  std::string partition_key;
  std::string data;  // raw bytes
  std::int64_t arrival_ms = 0;  // ApproximateArrivalTimestamp, epoch ms
};

struct Shard {
  int index = 0;
  std::string id;  // "shardId-000000000000"
  std::string hash_start;  // decimal, inclusive
  std::string hash_end;    // decimal, inclusive
  std::int64_t next_index = 0;  // index the next record gets
  std::deque<StreamRecord> records;  // indexes [next_index - records.size(), next_index)

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

  Stream* find_by_arn(const std::string& arn);
  Result<Stream*> find(const std::string& region, const std::string& name);

  // Records of shard `shard` from index `from` (a trimmed index starts at the first retained
  // record), at most max_records and about max_bytes of data (at least one record when any).
  ShardRead read(const Stream& s, int shard, std::int64_t from, int max_records, std::size_t max_bytes,
                 std::int64_t now_ms) const;
  // The index of the first record that arrived at or after ts_ms (the shard's next_index if none).
  std::int64_t index_at_timestamp(const Stream& s, int shard, std::int64_t ts_ms) const;

  // Calls cb once, after the commit that adds a record at index >= from to the shard (at once,
  // through defer, when one is already there), or when the stream is deleted. Cancelled by
  // cancel_waiters(owner) without a call.
  void wait_for_records(Stream& s, int shard, std::int64_t from, std::string owner, std::function<void()> cb);
  void cancel_waiters(const std::string& owner);

  // The wire operations (api/kinesis_api.cc) are declared by the implementation below this line.
  // [Implemented by the Kinesis service work; the poller needs only the members above.]

 private:
  DbWorker& db_;
  std::string account_;
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
