#pragma once
// TopicStore: the Kafka broker's rows (schema version 7): topics, their partitions' log start
// and next offsets, record batches as opaque blobs, producer state and group offsets. SQL
// only: what a batch holds, sequence rules and retention are services/kafka/'s business.
// Stateless: every call takes the Connection (the DbWorker's, so only its thread calls these).
//
// Every call returns OK or Internal for an SQLite failure; a read that fails is an error,
// never "no rows".

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "storage/sqlite.h"

namespace esm::storage {

struct TopicRow {
  std::int64_t id = 0;
  std::string name;
  int partitions = 0;
  std::string configs;  // the topic's configs, encoded by the caller
  std::int64_t created_ms = 0;
};

struct PartitionRow {
  std::int64_t topic_id = 0;
  int partition = 0;
  std::int64_t log_start = 0;
  std::int64_t next_offset = 0;
};

struct BatchRow {
  std::int64_t base_offset = 0;
  std::int64_t last_offset = 0;
  std::int64_t max_ts = 0;     // the largest record timestamp
  std::int64_t append_ms = 0;  // when esmd appended it
  std::string bytes;
};

struct ProducerRow {
  std::int64_t topic_id = 0;
  int partition = 0;
  std::int64_t producer_id = 0;
  int epoch = 0;
  std::string batches;  // the retained batches' sequence ranges, encoded by the caller
};

struct OffsetRow {
  std::string group_id;
  std::string topic;
  int partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string> metadata;
  std::int64_t commit_ms = 0;
};

// A new topic and its partitions (log start and next offset 0), all or none.
Status insert_topic_rows(Connection& c, const TopicRow& t);
// Removes the topic, its partitions, batches and producer state, and every group's offsets
// for its name, all or none.
Status delete_topic_rows(Connection& c, std::int64_t topic_id, const std::string& name);
Result<std::vector<TopicRow>> load_topic_rows(Connection& c);
Result<std::vector<PartitionRow>> load_partition_rows(Connection& c);
Status save_partition_row(Connection& c, const PartitionRow& p);

Status insert_batch_row(Connection& c, std::int64_t topic_id, int partition, const BatchRow& b);
// Appends to `out` the bytes of the partition's batches whose last offset is at or above
// `from`, in offset order, until about max_bytes (at least one batch when there is one): a
// fetch's answer, copied once.
Status append_batch_bytes(Connection& c, std::int64_t topic_id, int partition, std::int64_t from,
                          std::size_t max_bytes, std::string& out);
// The first batch, in offset order, whose max timestamp is at or after ts_ms.
Result<std::optional<BatchRow>> first_batch_at_time(Connection& c, std::int64_t topic_id, int partition,
                                                    std::int64_t ts_ms);
// The oldest batches of the partition, up to `limit`, without their bytes.
Result<std::vector<BatchRow>> oldest_batch_rows(Connection& c, std::int64_t topic_id, int partition, int limit);
// Removes the partition's batches whose last offset is below `below`.
Status delete_batch_rows_below(Connection& c, std::int64_t topic_id, int partition, std::int64_t below);

Status save_producer_row(Connection& c, const ProducerRow& p);
Result<std::vector<ProducerRow>> load_producer_rows(Connection& c);

Status save_offset_row(Connection& c, const OffsetRow& o);
// The group's committed offsets, ordered by topic and partition.
Result<std::vector<OffsetRow>> load_offset_rows(Connection& c, const std::string& group_id);
// The names of the groups that have committed offsets.
Result<std::vector<std::string>> load_offset_groups(Connection& c);
Status delete_offset_rows(Connection& c, const std::string& group_id);

// Counters (the last producer id handed out, ...): nullopt before the first save.
Result<std::optional<std::int64_t>> load_counter(Connection& c, std::string_view name);
Status save_counter(Connection& c, std::string_view name, std::int64_t value);

}  // namespace esm::storage
