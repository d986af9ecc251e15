#pragma once
// PartitionPipeline: the poller of a partitioned, ordered source (data-plane.md §3): Kinesis
// today through KinesisSource (pollers/kinesis_poller.h), a Kafka topic later. One per
// mapping; the source (pollers/partition_source.h) opens, reads and renders, the pipeline
// does the rest.
//
// Per partition, independently (a stuck partition never delays another):
//   reader   reads the partition from its cursor on the DbWorker (PartitionSource::read), or
//            waits for the next record (wait) when it is caught up; keeps at most kMaxBuffered
//            records read and not yet finished (back-pressure).
//   filter   the one place where FilterCriteria applies, before any batch is formed (§3.9,
//            filtering.md §6): a record that does not match is finished at once (skipped and
//            checkpointed), never counted as a failure; a batch holds only matching records.
//   lanes    ParallelizationFactor lanes, lane = MD5(key) mod PF (§3.7), each with one batch
//            in flight: records of one key stay in order. A tumbling-window mapping has one
//            lane (§3.8).
//   batch    up to BatchSize records, the batching window (timed from the later of the lane's
//            last completion and its first waiting record), never past the 6 MB event cap;
//            with a tumbling window only records of one window. A window whose state passes
//            1 MB ends at once with a final call without records (isWindowTerminatedEarly); its
//            later records open a new window with the same bounds and an empty state.
//   policy   a BatchRun (pollers/stream_policy.h) decides retries, bisect, record age and
//            give-ups; given-up records go to the OnFailure destination (§3.6) through the
//            FailureDestination.
//   checkpoint  just below the oldest record read and not finished in any lane, and below
//            given-up records whose failure record is not committed yet; written to SQLite
//            (storage/checkpoint_store.h) as it moves, so a restart or kill -9 resumes after
//            the last finished record (at least once: a faster lane's records may come again).
//            A failure record that is refused or not committed pauses the pipeline, which
//            reopens from the checkpoint: the records come again.
//
// States (per pipeline):
//
//   CLOSED   --open() [Enabled, nothing in flight]----------------> OPENING
//   OPENING  --on_opened()------------------------------------------> RUNNING
//   RUNNING  --drain() [leaves Enabled, configuration change]-------> DRAINING
//   DRAINING --finish_drain() [nothing in flight]: pause(), open()--> CLOSED
//   any      --pause() [stop, source gone, failure not delivered]--> CLOSED (generation_ bumped)
//
// DRAINING reads nothing and starts no invocation (no new batch, no retry); the answers of the
// invocations in flight are applied as usual (checkpoint, failure records). pause() drops what
// was read and not finished; answers that arrive after it are ignored (their batch was not
// checkpointed, so it comes again: at least once). The pipeline opens again only once nothing
// is in flight, from the checkpoints in SQLite, so the new reading never overlaps the old one.
//
// Threading: all state on the poller's strand (PollerBase). DbWorker jobs and source waiters
// hold the pipeline weakly: a job the worker drops at shutdown must not be the last owner.

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/mapping.h"
#include "core/scheduler.h"
#include "pollers/failure_destination.h"
#include "pollers/partition_source.h"
#include "pollers/poller_base.h"
#include "pollers/position_set.h"
#include "pollers/stream_policy.h"

namespace esm::pollers {

class PartitionPipeline final : public PollerBase {
 public:
  PartitionPipeline(PollerDeps deps, std::unique_ptr<PartitionSource> source, Mapping mapping);

 private:
  struct Record {
    PartitionRecord rec;
    std::string json;  // the record as the event carries it
  };

  struct OpenWindow {
    std::int64_t start_ms = 0;
    std::string state_json = "{}";
    bool terminated_early = false;  // the state passed 1 MB: the next call ends the window
  };

  // A formed batch and its policy run.
  struct Active {
    std::vector<Record> records;
    std::vector<std::string> jsons;
    std::vector<std::string_view> ids;  // records[i].rec.id, for ReportBatchItemFailures
    BatchRun run;
    std::size_t finished = 0;        // records [0, finished) marked finished
    std::size_t begin = 0, end = 0;  // the range being invoked
    bool in_flight = false;
    bool final_invoke = false;  // tumbling: the window's final invocation
    std::int64_t window_start_ms = 0;
    std::optional<InvokeOutcome> last;  // the last invocation's answer (for the failure record)
  };

  struct Lane {
    int index = 0;
    std::deque<Record> queue;  // assigned to the lane, not in a batch yet
    std::int64_t queued_since_ms = 0;
    std::int64_t last_completed_ms = 0;
    std::optional<Active> active;
    Scheduler::TimerHandle timer;
    std::int64_t timer_at_ms = 0;  // 0: not armed
  };

  struct PartitionState {
    PartitionInit init;  // index, id, epoch; `next` as opened
    int retention_s = -1;  // the source's retention period, as of the last read
    std::int64_t read_from = 0;
    bool reading = false;
    bool caught_up = false;  // the last read reached the partition's end
    PositionSet unfinished;  // positions read and not finished
    // Given-up records whose failure record is not committed yet: the checkpoint stays below.
    std::multiset<std::int64_t> held;
    std::size_t buffered_bytes = 0;  // event JSON of the unfinished records
    std::vector<std::unique_ptr<Lane>> lanes;
    std::optional<OpenWindow> window;  // tumbling: the open window
    // What SQLite has (or is being given).
    std::int64_t saved_position = -1;
    std::optional<std::string> saved_window;
    bool saving = false;
  };

  void on_start() override;
  void on_config(const Mapping& old, bool was_polling) override;
  void on_stop() override;

  int lane_count() const;
  void open();
  void on_opened(std::uint64_t gen, std::vector<PartitionInit> partitions);
  void pause(const char* why);
  void drain(const char* why);
  void finish_drain();
  void reopen_later();
  PartitionState* partition(std::uint64_t gen, int index);
  void read(PartitionState& p);
  void on_read(std::uint64_t gen, int index, PartitionRead r);
  void drive(PartitionState& p, Lane& lane);
  bool form_batch(PartitionState& p, Lane& lane);
  void invoke(PartitionState& p, Lane& lane);
  void on_invoked(std::uint64_t gen, int index, int lane, InvokeOutcome outcome);
  void finish_records(PartitionState& p, Active& a);
  void give_up(PartitionState& p, Active& a, const GiveUp& g);
  void on_failure_delivered(std::uint64_t gen, int index, const std::vector<std::int64_t>& held, bool ok);
  void set_result(const char* result);
  // Where the partition resumes: its oldest unfinished or held record, or the next to read.
  static std::int64_t checkpoint_position(const PartitionState& p);
  // One save at a time per partition; a newer position waits for the save in flight.
  void save_checkpoint(PartitionState& p);
  // Saves the newest position now, even with a save in flight (pause, before the state goes).
  void flush_checkpoint(PartitionState& p);
  // Any thread: a save's commit (or refusal) came back.
  void on_checkpoint_saved(std::uint64_t gen, int index, const Status& commit);
  void arm(PartitionState& p, Lane& lane, std::int64_t at_ms);
  std::optional<std::string> window_json(const PartitionState& p) const;
  WindowView window_view(const PartitionState& p, std::int64_t start_ms, bool final_invoke) const;

  std::shared_ptr<PartitionSource> source_;  // shared with database jobs
  std::string owner_;                        // names the pipeline's waiters
  Scheduler::TimerHandle retry_timer_;
  bool opening_ = false;
  bool running_ = false;
  bool draining_ = false;
  std::string drain_reason_;
  std::uint64_t generation_ = 0;
  std::vector<std::unique_ptr<PartitionState>> partitions_;
  std::string last_result_;
};

}  // namespace esm::pollers
