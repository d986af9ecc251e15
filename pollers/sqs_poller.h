#pragma once
// SqsPoller: moves messages from one SQS queue to one function, as Lambda's SQS poller does
// (data-plane.md §2). One per mapping.
//
// A batch is gathered until BatchSize messages, the batching window, or the 6 MB payload cap,
// whichever comes first; the messages stay invisible meanwhile. A message that would take the
// event past 6 MB seals the batch and opens the next one. Sealed batches wait in `ready_` and
// go out in order while fewer than `concurrency` invocations are open
// (ScalingConfig.MaximumConcurrency, else the esmd default, and never more than an http
// function's own concurrency); nothing more is received while one waits. After the
// invocation the batch is deleted, or only its non-failed part (ReportBatchItemFailures), or
// nothing (function or invoke error: the queue's visibility timeout and RedrivePolicy take
// over).
//
// FIFO order comes from the queue's group lock (a group with a message in flight returns
// nothing more) and, for the batches one receive was split into, from `groups_in_flight_`: a
// sealed batch does not go out while a batch holding one of its groups is in flight.
//
// Per mapping state (control-plane.md §3.4): only Enabled polls; Updating keeps polling with
// the old configuration and takes the new one when the state settles; leaving Enabled stops
// receiving, drops what was received but not sent (it returns after its visibility timeout)
// and lets in-flight invocations finish.
//
// FilterCriteria (filtering.md, data-plane.md §2.6): every received message is matched on its
// own before it joins a batch; one that matches no filter is deleted from the queue at once and
// never reaches the function, so a batch holds only matching messages and a receive that is
// all filtered out invokes nothing. The filter is compiled when the configuration changes.
//
// Waiting is event driven: the poller keeps one long poll open on the queue, which a
// SendMessage answers at once, so a message reaches the function within milliseconds.
//
// Threading: all state on the poller's strand (PollerBase); the QueueEngine only from DbWorker
// jobs, which the functions under "The queue calls" hold.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapping.h"
#include "core/scheduler.h"
#include "pollers/poller_base.h"
#include "pollers/poller_registry.h"
#include "services/sqs/queue_engine.h"

namespace esm::pollers {

class SqsPoller final : public PollerBase {
 public:
  SqsPoller(PollerDeps deps, sqs::QueueEngine& queues, Mapping mapping);

 private:
  // Messages with their serialized records; the event is {"Records":[records...]}.
  struct Batch {
    std::vector<sqs::Received> messages;
    std::vector<std::string> records;
    std::size_t record_bytes = 0;
  };

  void on_start() override;
  void on_config(const Mapping& old, bool was_polling) override;
  void on_stop() override;
  bool busy() const override { return receiving_; }

  int concurrency() const;
  void drop_unsent();
  // The queue calls (QueueEngine), each one DbWorker job.
  void receive_job(sqs::ReceiveOptions opt, int window_s, int fn_timeout_s);
  void delete_messages(std::vector<std::string> receipts);
  void release(std::vector<std::string> receipts);
  void cancel_long_poll();

  void maybe_receive();
  void on_received(std::uint64_t generation, sqs::ReceiveResult got);
  void add_to_batch(sqs::Received r, std::string record);
  void seal();
  bool groups_free(const Batch& b) const;
  void flush();
  void dispatch(Batch batch);
  void on_invoked(Batch batch, bool report_failures, InvokeOutcome outcome);
  void retry_later();

  sqs::QueueEngine& queues_;
  Scheduler::TimerHandle retry_timer_;
  bool receiving_ = false;
  std::uint64_t generation_ = 0;  // bumped when polling stops; late receives are handed back
  Batch pending_;                 // being gathered
  std::int64_t deadline_ms_ = 0;  // when pending_ goes out (its window ends)
  std::deque<Batch> ready_;       // sealed, waiting for a concurrency slot or a FIFO group
  std::map<std::string, int> groups_in_flight_;  // FIFO: message group -> batches in flight
};

// Makes SqsPoller the poller of SourceKind::kSqs mappings, reading from `queues`.
void register_sqs_poller(PollerRegistry& registry, sqs::QueueEngine& queues);

}  // namespace esm::pollers
