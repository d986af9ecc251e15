#pragma once
// KafkaPoller: moves the records of one Kafka topic to one function, as Lambda's MSK and
// self-managed Kafka pollers do (data-plane.md §4, kafka.md B.3–B.5). One per mapping, reading
// through a KafkaConsumer (pollers/kafka_consumer.h): librdkafka's, so the same poller reads
// esmd's own broker and any real cluster.
//
//   consume  the consumer is in the mapping's group (ConsumerGroupId, else the UUID) and reads
//            the topic's partitions from the committed offsets (StartingPosition only where
//            the group has none). The poller takes records while it has room for the next
//            batch (BatchSize, 6 MB), and stops taking them while one waits: the back-pressure
//            reaches the cluster through the consumer's bounded prefetch.
//   filter   each record is matched on its own before batching (filtering.md §6); one that
//            matches no filter never reaches the function, and its offset is committed with
//            the batch it was read with, or at once when no batch holds a matching record.
//   batch    up to BatchSize matching records of any partitions, the batching window (500 ms
//            unless MaximumBatchingWindowInSeconds is set, timed from the batch's first record)
//            or the 6 MB event cap, whichever comes first. The event groups the records by
//            "<topic>-<partition>", each partition's in offset order.
//   invoke   one batch in flight per mapping (Lambda's default of one consumer per mapping).
//            Its run (pollers/stream_policy.h BatchRun, over the batch's records partition by
//            partition) decides retries, bisect, MaximumRecordAgeInSeconds and give-ups. Without
//            the error controls a failing batch is retried until it succeeds, and nothing after
//            it is delivered meanwhile: order kept, nothing skipped.
//   commit   after the run moves past records, each partition's next offset (the first record
//            not done, else past every record read with the batch) is committed to the cluster,
//            asynchronously: a restart or kill -9 resumes from it (at least once).
//
// Given-up records (retries exhausted, too old) go to the OnFailure destination with AWS's
// Kafka failure record: an esmd SQS queue, SNS or S3 (FailureDestination), or kafka://<topic>
// on the same cluster, one message per record keyed by its key. Their offsets are committed
// only once the destination has them (a refused delivery is retried every second). With a
// destination, retries that would be infinite stop after 10 (kafka.md B.5).
//
// A record no event can carry (over 6 MB with the event around it) is skipped with a warning
// and committed with its neighbours; LastProcessingResult then reads PROBLEM.
//
// A ReportBatchItemFailures response names records as {"partition":"<topic>-<partition>",
// "offset":n}; the batch's records from the lowest one named (in the event's order) are retried.
//
// Per mapping state (control-plane.md §3.4): only Enabled consumes; leaving Enabled drops what
// was read and not sent (it is read again from the committed offsets), lets the batch in flight
// finish and commit, then closes the consumer without waiting on the strand (busy() until it
// is closed).
//
// Threading: all state on the poller's strand (PollerBase); the consumer's wake-up is posted to
// it, at most one at a time.

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/scheduler.h"
#include "pollers/kafka_consumer.h"
#include "pollers/kafka_event.h"
#include "pollers/poller_base.h"
#include "pollers/poller_registry.h"
#include "pollers/stream_policy.h"

namespace esm::pollers {

// Where a mapping reads: its brokers, "host:port,host:port" (kafka::ClusterDirectory), and its
// consumer group. Asked when the consumer opens: esmd's own broker is bound only once the
// pollers exist.
struct KafkaCluster {
  std::string bootstrap;
  std::string group_id;
};
using KafkaResolver = std::function<KafkaCluster(const Mapping&)>;

class KafkaPoller final : public PollerBase {
 public:
  KafkaPoller(PollerDeps deps, KafkaConsumerFactory factory, KafkaResolver resolve, Mapping mapping);

  // The default batching window of a Kafka mapping (kafka.md B.3).
  static constexpr std::int64_t kDefaultWindowMs = 500;

 private:
  // A record read: its place, and its JSON when it matched the filter (empty when it did not).
  struct Entry {
    int partition_index = 0;  // into partitions_
    std::int64_t offset = 0;
    std::int64_t timestamp_ms = 0;
    std::string json;
    bool matched = false;
    std::optional<std::string> key;  // for a kafka:// failure destination
  };
  struct PartitionName {
    std::string topic;
    int partition = 0;
    std::string key;  // "<topic>-<partition>"
  };
  // A formed batch: its matching records in the event's order (partition by partition), and
  // for each partition it read, the offset after the last record read with it.
  struct Batch {
    std::vector<Entry> records;
    std::vector<KafkaItemId> ids;
    std::vector<std::pair<int, std::int64_t>> read_end;  // partition_index -> next offset
    std::optional<BatchRun> run;
    std::size_t committed = 0;  // records [0, committed) committed
    bool in_flight = false;
    std::size_t invoked_begin = 0, invoked_end = 0;  // the range in flight or last answered
    Scheduler::TimerHandle timer;
    std::uint64_t id = 0;
    std::optional<InvokeOutcome> last;  // the last answer, for a failure record
    // Given-up ranges whose failure records are not delivered yet: begin -> deliveries
    // outstanding. Nothing from the lowest begin on is committed meanwhile.
    std::map<std::size_t, int> holds;
  };

  void on_start() override;
  void on_config(const Mapping& old, bool was_polling) override;
  void on_stop() override;
  bool busy() const override { return closing_; }

  void open_consumer();
  void close_consumer();
  void step_close();
  void on_wake();
  void take();
  void drop_partitions(const std::vector<std::pair<std::string, int>>& revoked);
  int partition_index(const std::string& topic, int partition);
  std::size_t matched_pending() const { return pending_matched_; }
  std::int64_t window_ms() const;
  void drive();
  Batch form_batch();
  void run_batch();
  void on_invoked(InvokeOutcome outcome);
  void commit_done(bool all);
  void give_up(const GiveUp& g);
  void deliver_failure(std::uint64_t batch, std::size_t begin, std::string destination, std::size_t index,
                       std::string record, std::string object);
  void on_failure_delivered(std::uint64_t batch, std::size_t begin, std::string destination, std::size_t index,
                            std::string record, std::string object, std::string error);
  void commit_unmatched();
  void set_result(const std::string& result);

  KafkaConsumerFactory factory_;
  KafkaResolver resolve_;
  KafkaEventSource source_;  // as of the consumer's opening
  std::size_t base_size_ = 0;  // of an event with no record
  std::unique_ptr<KafkaConsumer> consumer_;
  std::unique_ptr<KafkaConsumer> closing_consumer_;  // leaving the group
  Scheduler::TimerHandle close_timer_;
  bool consuming_ = false;
  bool closing_ = false;
  std::shared_ptr<std::atomic<bool>> wake_posted_ = std::make_shared<std::atomic<bool>>(false);
  std::vector<PartitionName> partitions_;
  std::deque<Entry> pending_;  // read, not in a batch, in read order
  std::size_t pending_matched_ = 0;
  std::size_t pending_bytes_ = 0;  // JSON of the matching records pending
  std::int64_t window_end_ms_ = 0;
  Scheduler::TimerHandle window_timer_;
  std::optional<Batch> active_;
  std::uint64_t batches_ = 0;
  std::string last_result_;
};

// Makes KafkaPoller the poller of MSK and self-managed Kafka mappings; `factory` makes its
// consumer (make_rdkafka_consumer in production).
void register_kafka_poller(PollerRegistry& registry, KafkaResolver resolve, KafkaConsumerFactory factory);

}  // namespace esm::pollers
