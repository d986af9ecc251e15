#pragma once
// LogEngine: esmd's Kafka log. Topics and their partitions' offsets live in memory; record
// batches live only in SQLite (storage/topic_store.h), stored as the producer sent them with
// the broker's offset written in, so a fetch serves them back byte for byte whatever their
// compression. An append is written in the DbWorker job that makes it, so it is committed
// before the producer hears of it; fetches waiting for data are woken after that commit.
//
// Commit rule: the engine changes its memory inside the job, before the commit. When that
// commit fails, DbWorker calls recover(): every waiter is called (its fetch re-reads), the
// memory is dropped and loaded again from the disk.
//
// Idempotent producers (reference/kafka.md A.4.3): per (partition, producer id) the epoch and
// the sequence ranges of the last five batches, kept in SQLite so that a retry after a
// restart is still recognised as a duplicate.
//
// Retention: a batch is deleted once retention.ms has passed since esmd appended it, oldest
// first, and the log start offset moves past it. (Kafka measures from the largest record
// timestamp of a segment and never deletes the active one, which in practice keeps a small
// log whatever its timestamps; measuring from the append keeps that, and still trims.)
//
// Errors: LogError kinds (services/kafka/log_error.h); the wire codes are api/kafka's.
//
// Threading: DbWorker thread only (jobs, the tick and the recovery). Waiter callbacks must
// hand off to their own executor.

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

#include "core/expected.h"
#include "core/status.h"
#include "services/kafka/log_error.h"
#include "storage/db_worker.h"
#include "storage/topic_store.h"

namespace esm::kafka {

using storage::Connection;

inline constexpr std::int64_t kDefaultRetentionMs = 7LL * 24 * 3600 * 1000;  // Kafka's log.retention.hours=168
inline constexpr std::int32_t kDefaultMaxMessageBytes = 1048588;              // Kafka's message.max.bytes
inline constexpr int kMaxPartitions = 10000;
inline constexpr std::size_t kRetainedProducerBatches = 5;  // Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN

// The configs a topic may be created with: Kafka's names, with Kafka's defaults.
struct TopicConfig {
  std::int64_t retention_ms = kDefaultRetentionMs;  // -1: keep forever
  std::int32_t max_message_bytes = kDefaultMaxMessageBytes;
  bool log_append_time = false;  // message.timestamp.type=LogAppendTime
  std::map<std::string, std::string> set;  // the configs given at creation, by name

  // Every config of a topic with its value and whether it was set (DescribeConfigs).
  struct Entry {
    std::string name;
    std::string value;
    bool is_default = true;
  };
  std::vector<Entry> entries() const;
  // Parses the configs of a CreateTopics request: kInvalidConfig for an unknown name or a bad value.
  static Expected<TopicConfig, LogError> parse(const std::map<std::string, std::string>& configs);
};

struct ProducerBatch {
  std::int32_t first_seq = 0;
  std::int32_t last_seq = 0;
  std::int64_t base_offset = 0;
};

struct ProducerState {
  std::int16_t epoch = 0;
  std::deque<ProducerBatch> batches;  // the newest last, at most kRetainedProducerBatches
};

struct Partition {
  std::int64_t log_start = 0;
  std::int64_t next_offset = 0;  // the high watermark (and the last stable offset: no transactions)
  std::unordered_map<std::int64_t, ProducerState> producers;
};

struct Topic {
  std::int64_t id = 0;  // never reused: a topic deleted and created again is another topic
  std::string name;
  TopicConfig config;
  std::vector<Partition> partitions;
  std::int64_t created_ms = 0;
};

class LogEngine {
 public:
  explicit LogEngine(storage::DbWorker& db) : db_(db) {}
  ~LogEngine();
  LogEngine(const LogEngine&) = delete;
  LogEngine& operator=(const LogEngine&) = delete;

  // Loads topics, partitions and producer state into an empty engine, at start-up before the
  // worker runs. Internal when a table cannot be read.
  Status load(Connection& c);
  // DbWorker's recovery after a failed commit: calls every waiter, forgets the memory and
  // loads it again from the disk.
  Status recover(Connection& c);
  // Retention; returns when it next needs to run.
  std::optional<std::int64_t> tick(Connection& c, std::int64_t now_ms);

  // Kafka's topic name rule: [a-zA-Z0-9._-], 1 to 249 characters, neither "." nor "..".
  static bool valid_topic_name(std::string_view name);

  // A Topic* stays valid until delete_topic() or recover().
  Topic* find(std::string_view name);
  std::vector<const Topic*> topics() const;  // by name

  // replication_factor must be 1 or -1 (one node); partitions -1 means 1 (Kafka's
  // num.partitions default). With validate_only nothing is created and nullptr is returned.
  Expected<Topic*, LogError> create_topic(Connection& c, const std::string& name, int partitions,
                                          int replication_factor, const std::map<std::string, std::string>& configs,
                                          bool validate_only, std::int64_t now_ms);
  // Removes the topic, its records and its producers' state and every group's offsets for it;
  // its waiters are called after the commit (they find it gone).
  Expected<void, LogError> delete_topic(Connection& c, const std::string& name);

  struct Appended {
    std::int64_t base_offset = -1;
    std::int64_t log_append_time = -1;  // -1 unless the topic uses LogAppendTime
    std::int64_t log_start = 0;
  };
  // Appends a Produce request's records for one partition: every batch is checked (structure,
  // CRC, size, producer sequence) before any is written. A retried batch of an idempotent
  // producer is answered with its first offset and not written again.
  Expected<Appended, LogError> append(Connection& c, Topic& t, int partition, std::string_view records,
                                      std::int64_t now_ms);

  struct Read {
    LogError error = LogError::kNone;
    std::int64_t high_watermark = -1;
    std::int64_t log_start = -1;
    std::string records;  // whole batches, the first one holding `offset`
  };
  // Batches from the one holding `offset`, up to about max_bytes (at least one batch).
  Read read(Connection& c, const std::string& topic, int partition, std::int64_t offset, std::size_t max_bytes);

  struct TimeOffset {
    std::int64_t offset = -1;
    std::int64_t timestamp = -1;
  };
  // The first record whose timestamp is at or after ts_ms: its offset and timestamp, or -1 and
  // -1 when there is none.
  Expected<TimeOffset, LogError> offset_for_time(Connection& c, const Topic& t, int partition, std::int64_t ts_ms);

  // A new producer id for InitProducerId (never reused, kept in SQLite).
  Expected<std::int64_t, LogError> new_producer_id(Connection& c);

  // Consumer groups' committed offsets (OffsetCommit / OffsetFetch), durable: they are also
  // what a Kafka event-source mapping resumes from.
  struct CommittedOffset {
    std::string topic;
    int partition = 0;
    std::int64_t offset = -1;
    std::optional<std::string> metadata;
  };
  Expected<void, LogError> commit_offset(Connection& c, const std::string& group, const CommittedOffset& o,
                                         std::int64_t now_ms);
  Expected<std::vector<CommittedOffset>, LogError> committed_offsets(Connection& c, const std::string& group);
  // The groups that have committed offsets.
  Expected<std::vector<std::string>, LogError> offset_groups(Connection& c);
  Expected<void, LogError> delete_group_offsets(Connection& c, const std::string& group);

  // Calls cb once, after the commit that appends to the partition (or deletes its topic), or
  // when a failed commit made the engine reload. The waiter is dropped without a call once the
  // caller lets go of the returned handle.
  using WaitHandle = std::shared_ptr<std::function<void()>>;
  WaitHandle wait_for_data(const Topic& t, int partition, std::function<void()> cb);

 private:
  void wake(std::int64_t topic_id, int partition);
  void wake_all();
  Status load_state(Connection& c);
  // Kafka's sequence rules for one batch of an idempotent producer (st: its state on the
  // partition, null when it has none); duplicate_of is set for a retried batch.
  static Expected<void, LogError> check_sequence(const ProducerState* st, std::int16_t epoch, std::int32_t first_seq,
                                                 std::int32_t last_seq, std::optional<std::int64_t>& duplicate_of);

  storage::DbWorker& db_;
  std::map<std::string, std::unique_ptr<Topic>, std::less<>> topics_;
  std::int64_t last_topic_id_ = 0;
  std::int64_t last_producer_id_ = -1;
  std::int64_t next_retention_ms_ = 0;
  std::map<std::pair<std::int64_t, int>, std::vector<std::weak_ptr<std::function<void()>>>> waiters_;
};

}  // namespace esm::kafka
