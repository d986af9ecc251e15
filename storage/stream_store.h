#pragma once
// StreamStore: rows of the three stream tables (streams, their shards, their records) and the
// stream-id counter. SQL only: what the rows mean (hash ranges, sequence numbers, retention)
// is services/kinesis/'s business. Stateless: every call takes the Connection (owned by
// DbWorker, so only the worker thread calls these).
//
// Every call returns OK or Internal for an SQLite failure; a read that fails is an error,
// never "no rows".

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/sqlite.h"

namespace esm::storage {

struct StreamRow {
  std::int64_t id = 0;
  std::string region;
  std::string account;
  std::string name;
  std::string mode;
  int retention_hours = 0;
  std::int64_t created_ms = 0;
  std::map<std::string, std::string> tags;
};

struct ShardRow {
  std::int64_t stream_id = 0;
  int shard_index = 0;
  std::string hash_start;
  std::string hash_end;
  // Written when the shard's records are trimmed; the last record's index + 1 may be higher.
  std::int64_t next_index = 0;
};

struct RecordRow {
  std::int64_t stream_id = 0;
  int shard_index = 0;
  std::int64_t record_index = 0;
  std::string partition_key;
  std::string data;  // bytes, stored as a BLOB
  std::int64_t arrival_ms = 0;
};

// Inserts the stream or rewrites the row with its id.
Status save_stream_row(Connection& c, const StreamRow& s);
// A new stream: its row, its shards and the last stream id, all or none of them.
Status insert_stream_rows(Connection& c, const StreamRow& s, const std::vector<ShardRow>& shards);
Status insert_shard_row(Connection& c, const ShardRow& s);
Status insert_record_row(Connection& c, const RecordRow& r);
// Removes the stream's row, its shards and its records, all or none of them.
Status delete_stream_rows(Connection& c, std::int64_t stream_id);
// Removes the shard's records below first_kept and stores next_index for the shard.
Status trim_record_rows(Connection& c, std::int64_t stream_id, int shard_index, std::int64_t first_kept,
                        std::int64_t next_index);

Result<std::vector<StreamRow>> load_stream_rows(Connection& c);
// Ordered by stream id, then shard index.
Result<std::vector<ShardRow>> load_shard_rows(Connection& c);
// Calls fn for every record, ordered by stream id, shard index and record index, without
// holding them all twice in memory; stops at the first non-OK Status fn returns.
Status for_each_record_row(Connection& c, const std::function<Status(RecordRow&&)>& fn);

// The highest stream id ever handed out (kept when streams are deleted); nullopt before the first.
Result<std::optional<std::int64_t>> load_last_stream_id(Connection& c);
Status save_last_stream_id(Connection& c, std::int64_t id);

}  // namespace esm::storage
