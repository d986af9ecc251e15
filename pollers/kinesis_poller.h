#pragma once
// KinesisPoller: moves records from one Kinesis stream to one function, as Lambda's stream
// poller does (data-plane.md §3). One per mapping.
//
// Per shard, independently (a stuck shard never delays another):
//   reader   reads the shard from its cursor on the DbWorker (StreamEngine::read), or waits for
//            the next PutRecord (wait_for_records) when it is caught up; keeps at most
//            kMaxBuffered records read and not yet finished.
//   filter   the one place where FilterCriteria applies, before any batch is formed (§3.9,
//            filtering.md §6): a record that does not match is finished at once (skipped and
//            checkpointed), never counted as a failure; a batch holds only matching records.
//   lanes    ParallelizationFactor lanes, lane = MD5(partitionKey) mod PF (§3.7), each with
//            one batch in flight: records of one key stay in order. A tumbling-window mapping
//            has one lane (§3.8).
//   batch    up to BatchSize records, the batching window (timed from the later of the lane's
//            last completion and its first waiting record), never past the 6 MB event cap;
//            with a tumbling window only records of one window. A window whose state passes
//            1 MB ends at once with a final call without records (isWindowTerminatedEarly); its
//            later records open a new window with the same bounds and an empty state.
//   policy   a BatchRun (pollers/stream_policy.h) decides retries, bisect, record age and
//            give-ups; given-up records go to the OnFailure destination (§3.6).
//   checkpoint  just below the oldest record read and not finished in any lane; written to
//            SQLite (storage/checkpoint_store.h) as it moves, so a restart or kill -9 resumes
//            after the last finished record (at least once: a faster lane's records may come
//            again).
//
// States (per poller):
//
//   CLOSED   --open() [Enabled, nothing in flight]----------------> OPENING
//   OPENING  --on_opened()------------------------------------------> RUNNING
//   RUNNING  --drain() [leaves Enabled, configuration change]-------> DRAINING
//   DRAINING --finish_drain() [nothing in flight]: pause(), open()--> CLOSED
//   any      --pause() [stop, stream gone]--------------------------> CLOSED (generation_ bumped)
//
// DRAINING reads nothing and starts no invocation (no new batch, no retry); the answers of the
// invocations in flight are applied as usual (checkpoint, failure records). pause() drops what
// was read and not finished; answers that arrive after it are ignored (their batch was not
// checkpointed, so it comes again: at least once). The poller opens again only once nothing
// is in flight, from the checkpoints in SQLite, so the new reading never overlaps the old one.
//
// Threading: all state on the poller's strand; start/update/stop may be called from any thread.
// DbWorker jobs and stream waiters hold the poller weakly: a job the worker drops at shutdown
// must not be the last owner (the poller's timers must die before the io_context).

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/mapping.h"
#include "pollers/filter.h"
#include "pollers/kinesis_event.h"
#include "pollers/poller.h"
#include "pollers/stream_policy.h"
#include "storage/checkpoint_store.h"

namespace esm::pollers {

class KinesisPoller final : public Poller, public std::enable_shared_from_this<KinesisPoller> {
 public:
  KinesisPoller(PollerDeps deps, Mapping mapping);

  void start() override;
  void update(Mapping mapping) override;
  void stop(std::function<void()> on_stopped) override;

 private:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  struct Record {
    kinesis::StreamRecord rec;
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
    std::vector<std::string> seqs;
    BatchRun run;
    std::size_t finished = 0;      // records [0, finished) marked finished
    std::size_t begin = 0, end = 0;  // the range being invoked
    bool in_flight = false;
    bool final_invoke = false;     // tumbling: the window's final invocation
    std::int64_t window_start_ms = 0;
    std::optional<InvokeOutcome> last;  // the last invocation's answer (for the failure record)
  };

  struct Lane {
    explicit Lane(Strand& s) : timer(s) {}
    int index = 0;
    std::deque<Record> queue;  // assigned to the lane, not in a batch yet
    std::int64_t queued_since_ms = 0;
    std::int64_t last_completed_ms = 0;
    std::optional<Active> active;
    boost::asio::steady_timer timer;
    std::int64_t timer_at_ms = 0;  // 0: not armed
  };

  struct ShardState {
    int index = 0;
    std::string id;
    std::int64_t stream_id = 0;  // Stream::id: a stream recreated under the same ARN is another one
    int retention_s = -1;        // the stream's retention period, as of the last read
    std::int64_t read_from = 0;
    bool reading = false;
    bool caught_up = false;  // the last read reached the shard's end
    std::set<std::int64_t> unfinished;  // indexes read and not finished
    std::size_t buffered_bytes = 0;     // event JSON of the unfinished records
    std::vector<std::unique_ptr<Lane>> lanes;
    std::optional<OpenWindow> window;  // tumbling: the open window
    // What SQLite has (or is being given).
    std::int64_t saved_index = -1;
    std::optional<std::string> saved_window;
    bool saving = false;
  };

  struct ShardInit {
    int index = 0;
    std::string id;
    std::int64_t stream_id = 0;
    int retention_s = -1;
    std::int64_t next_index = 0;
    std::optional<std::string> window_json;
  };

  bool should_poll() const;
  int lane_count() const;
  void apply(Mapping mapping);
  void open();
  void on_opened(std::uint64_t gen, std::vector<ShardInit> shards);
  void pause(const char* why);
  void drain(const char* why);
  void finish_drain();
  void read(ShardState& s);
  void on_read(std::uint64_t gen, int shard, int retention_s, kinesis::ShardRead r);
  bool record_matches(const kinesis::StreamRecord& r, const std::string& shard_id) const;
  void drive(ShardState& s, Lane& lane);
  bool form_batch(ShardState& s, Lane& lane);
  void invoke(ShardState& s, Lane& lane);
  void on_invoked(std::uint64_t gen, int shard, int lane, InvokeOutcome outcome);
  void finish_records(ShardState& s, Active& a);
  void give_up(ShardState& s, Active& a, const GiveUp& g);
  void deliver_failure(const std::string& destination, const std::string& shard_id, std::string body,
                       std::string object);
  void set_result(const char* result);
  // Where the shard resumes: its oldest unfinished record, or the next one to read.
  static std::int64_t checkpoint_position(const ShardState& s);
  // One save at a time per shard; a newer position waits for the save in flight.
  void save_checkpoint(ShardState& s);
  // Saves the newest position now, even with a save in flight (pause, before the shard goes).
  void flush_checkpoint(ShardState& s);
  // Any thread: a save's commit (or refusal) came back.
  void on_checkpoint_saved(std::uint64_t gen, int shard, const Status& commit);
  void arm(ShardState& s, Lane& lane, std::int64_t at_ms);
  void check_stopped();
  KinesisSource source(const ShardState& s) const;
  std::optional<std::string> window_json(const ShardState& s) const;

  PollerDeps deps_;
  Strand strand_;
  boost::asio::steady_timer retry_timer_;
  Mapping config_;
  std::optional<Mapping> pending_config_;  // a change to apply when nothing is in flight
  std::string owner_;                      // for StreamEngine::cancel_waiters
  std::string role_arn_;
  std::shared_ptr<const EventFilter> filter_;  // config_.filter_patterns, compiled
  bool opening_ = false;
  bool running_ = false;
  bool draining_ = false;
  std::string drain_reason_;
  bool stopping_ = false;
  int in_flight_ = 0;
  std::uint64_t generation_ = 0;
  std::vector<std::unique_ptr<ShardState>> shards_;
  std::string last_result_;
  std::function<void()> on_stopped_;
};

}  // namespace esm::pollers
