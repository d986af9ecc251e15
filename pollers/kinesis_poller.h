#pragma once
// The Kinesis poller (data-plane.md §3): a PartitionPipeline (pollers/partition_pipeline.h)
// over KinesisPartitionSource, which is all that is Kinesis about it: a shard is a partition,
// a record's index in its shard its position, its sequence number its id, its partition key
// its lane key; the stream's id tells a stream recreated under the same ARN apart; records
// render as Kinesis event records and failures as KinesisBatchInfo.
//
// Threading: open/read/wait/cancel_waits on the DbWorker thread (the StreamEngine's); the
// record view on the poller's strand, reading only what the constructor set.

#include <memory>
#include <string>
#include <unordered_map>

#include "core/mapping.h"
#include "pollers/kinesis_event.h"
#include "pollers/partition_source.h"
#include "pollers/poller_registry.h"
#include "services/kinesis/stream_engine.h"

namespace esm::pollers {

class KinesisPartitionSource final : public PartitionSource {
 public:
  KinesisPartitionSource(kinesis::StreamEngine& streams, const Mapping& mapping);

  const std::string& checkpoint_source() const override { return stream_arn_; }
  Result<std::optional<std::vector<PartitionInit>>> open(storage::Connection& c, const Mapping& m) override;
  PartitionRead read(const PartitionInit& p, std::int64_t from, int max_records, std::size_t max_bytes,
                     std::int64_t now_ms) override;
  void wait(const PartitionInit& p, std::int64_t from, const std::string& owner, std::function<void()> woken) override;
  void cancel_waits(const std::string& owner) override;

  std::optional<std::string> render(const EventFilter& filter, PartitionRecord& r,
                                    const std::string& partition_id) const override;
  std::string event_json(const std::vector<std::string>& records, std::size_t begin, std::size_t end,
                         const WindowView* window, const std::string& partition_id) const override;
  std::size_t event_size(std::size_t n, std::size_t record_bytes, const WindowView* window,
                         const std::string& partition_id) const override;
  std::string failure_record(const FailedBatch& b) const override;
  std::string failure_object(const FailedBatch& b) const override;

 private:
  KinesisSource event_source(const std::string& shard_id) const;
  FailureRecord failure_of(const FailedBatch& b) const;
  // The stream and shard a read names, if the stream is still the one opened.
  kinesis::Stream* stream_of(const PartitionInit& p);

  kinesis::StreamEngine& streams_;
  std::string stream_arn_;
  std::string region_;
  std::string role_arn_;  // invokeIdentityArn, from the function name at creation
  // Per shard, made at its first record. render() runs on the poller's strand only.
  mutable std::unordered_map<std::string, KinesisRecordFrame> frames_;
};

// Makes a PartitionPipeline over KinesisPartitionSource the poller of SourceKind::kKinesis
// mappings, reading from `streams`.
void register_kinesis_poller(PollerRegistry& registry, kinesis::StreamEngine& streams);

}  // namespace esm::pollers
