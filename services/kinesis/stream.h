#pragma once
// The in-memory model of a stream: its shards and their retained records.
//
// Positions: each record has an index in its shard (0, 1, 2, ... never reused, kept across
// trims and restarts). Its sequence number (services/kinesis/sequence.h) is derived from
// (stream id, shard index, record index). The pollers work with indexes; the wire sees
// sequence numbers.

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "services/kinesis/hash_key.h"

namespace esm::kinesis {

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

}  // namespace esm::kinesis
