#pragma once
// FailureDestination: where a stream-like poller's given-up records are reported
// (DestinationConfig.OnFailure, data-plane.md §3.6): an esmd SQS queue (a real message, in the
// same database), or an SNS topic or S3 bucket, which esmd does not host and records in the
// DestinationLog instead. A Kafka topic destination plugs in here as one more ARN kind.
//
// The commit rule: done(OK) only once the record is where it goes (the queue's message
// committed, the log appended); the poller must not move its checkpoint past the records
// before that. done(error) when the send was refused, the database failed its write, or its
// commit failed: the poller re-opens from its checkpoint and the records come again. A queue
// that does not exist, or one that rejects the message (a validation error), drops the record
// with a warning (done(OK)): retrying would not change that, and holding the checkpoint would
// stop the shard for good.
//
// Threading: deliver() from any thread; done runs on the DbWorker thread (SQS) or inline
// (SNS, S3, no destination), so callers post it to their strand.

#include <functional>
#include <string>

#include "core/clock.h"
#include "core/destination_log.h"
#include "core/status.h"
#include "storage/db_worker.h"
#include "services/sqs/queue_engine.h"

namespace esm::pollers {

struct FailureReport {
  std::string destination;   // the OnFailure ARN; empty: nowhere to send
  std::string mapping_uuid;
  std::string partition_id;  // a shard id; names the S3 object
  std::string record;        // the failure record (SQS message, SNS notification)
  std::string object;        // S3: the object (the failure record with the records' payloads)
};

class FailureDestination {
 public:
  FailureDestination(storage::DbWorker& db, sqs::QueueEngine& queues, DestinationLog& log, const Clock& clock)
      : db_(db), queues_(queues), log_(log), clock_(clock) {}

  void deliver(FailureReport report, std::function<void(const Status&)> done);

 private:
  void send_to_queue(FailureReport report, std::function<void(const Status&)> done);

  storage::DbWorker& db_;
  sqs::QueueEngine& queues_;
  DestinationLog& log_;
  const Clock& clock_;
};

}  // namespace esm::pollers
