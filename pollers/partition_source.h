#pragma once
// PartitionSource: what the partition pipeline (pollers/partition_pipeline.h) asks of a
// partitioned, ordered source — a Kinesis stream's shards today, a Kafka topic's partitions
// later. The pipeline owns batching, lanes, windows, retries, checkpoints and failure
// destinations; the source only opens, reads, waits, and says what a record looks like in
// the function's event and in a failure record.
//
// Threading: the "database" members run on the DbWorker thread only (inside a job), where the
// source's service lives; the "record view" members run on the poller's strand and read only
// what the source was constructed with.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/invoke.h"
#include "core/mapping.h"
#include "core/status.h"
#include "pollers/filter.h"
#include "pollers/stream_policy.h"
#include "storage/sqlite.h"

namespace esm::pollers {

// A partition as opened: where its reading starts.
struct PartitionInit {
  int index = 0;          // the source's number for the partition
  std::string id;         // its name in events and checkpoints ("shardId-000000000000")
  std::int64_t epoch = 0; // the incarnation of the source (a Kinesis Stream::id); reads check it
  int retention_s = -1;   // how long the source keeps a record; -1: for ever
  std::int64_t next = 0;  // the first position to read
  std::optional<std::string> state;  // the pipeline's state saved with the checkpoint
};

// One record as the pipeline sees it. `data` is dropped once the record's JSON is built.
struct PartitionRecord {
  std::int64_t position = 0;  // orders the partition; the checkpoint is a position
  std::string id;             // what ReportBatchItemFailures names (a sequence number)
  std::string key;            // picks the lane (a partition key)
  std::int64_t arrival_ms = 0;
  std::string data;
};

struct PartitionRead {
  bool gone = false;  // the source, the partition or its incarnation is gone: reopen
  std::vector<PartitionRecord> records;
  std::int64_t next = 0;   // where the next read starts
  bool caught_up = false;  // the read reached the partition's end
  int retention_s = -1;
};

// The members of a tumbling-window event (TumblingWindowInSeconds > 0).
struct WindowView {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  std::string state_json = "{}";
  bool final_invoke = false;
  bool terminated_early = false;
};

// Records [begin, end) of a batch given up, for the failure record.
struct FailedBatch {
  const GiveUp& give_up;
  const InvokeOutcome* last = nullptr;  // the last invocation's answer, if any
  std::string function_arn;
  std::int64_t now_ms = 0;
  std::string partition_id;
  const PartitionRecord& first;  // data already dropped: position, id, key, arrival
  const PartitionRecord& last_record;
  const std::vector<std::string>& jsons;  // the batch's record JSONs; [begin, end) given up
};

class PartitionSource {
 public:
  virtual ~PartitionSource() = default;

  // What the checkpoints name as their source (storage/checkpoint_store.h): the stream's ARN,
  // a Kafka topic. Fixed for the source's life.
  virtual const std::string& checkpoint_source() const = 0;

  // Database: the partitions and where each resumes: from the mapping's checkpoint when it was
  // written for this incarnation of the source, else from StartingPosition, saved at once so
  // that a restart does not move it. nullopt: the source does not exist (yet). An error: the
  // checkpoints could not be read (not "none": a starting position would skip or repeat).
  virtual Result<std::optional<std::vector<PartitionInit>>> open(storage::Connection& c, const Mapping& m) = 0;
  // Database: up to max_records / about max_bytes of record data from `from`.
  virtual PartitionRead read(const PartitionInit& p, std::int64_t from, int max_records, std::size_t max_bytes,
                             std::int64_t now_ms) = 0;
  // Database: calls woken (from any thread), once, when the partition has a record at `from`
  // or it is gone; dropped unused by cancel_waits(owner).
  virtual void wait(const PartitionInit& p, std::int64_t from, const std::string& owner, std::function<void()> woken) = 0;
  virtual void cancel_waits(const std::string& owner) = 0;

  // Record view: the record as the event carries it, or nullopt when it matches no filter
  // (FilterCriteria apply before a record joins a batch). Consumes r.data.
  virtual std::optional<std::string> render(const EventFilter& filter, PartitionRecord& r,
                                            const std::string& partition_id) const = 0;
  // Record view: the event around records [begin, end), with the window members if any.
  virtual std::string event_json(const std::vector<std::string>& records, std::size_t begin, std::size_t end,
                                 const WindowView* window, const std::string& partition_id) const = 0;
  // Record view: the exact size of an event of n records of record_bytes in all, plus at most
  // what the window members add.
  virtual std::size_t event_size(std::size_t n, std::size_t record_bytes, const WindowView* window,
                                 const std::string& partition_id) const = 0;
  // Record view: the failure record (SQS, SNS) and the S3 object of a given-up range.
  virtual std::string failure_record(const FailedBatch& b) const = 0;
  virtual std::string failure_object(const FailedBatch& b) const = 0;
};

}  // namespace esm::pollers
