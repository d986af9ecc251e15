#pragma once
// MockSources: tells LambdaApi whether the source of a new mapping exists in esmd's own mock
// services (control-plane.md §5.2): an SQS queue (QueueEngine) or a Kinesis stream
// (StreamEngine). Sources of kinds esmd does not mock (DynamoDB streams, Kafka, MQ, ...) are
// accepted as well formed.
//
// Threading: check_source runs in a DbWorker job, where both engines live.

#include "api/lambda_api.h"
#include "services/kinesis/stream_engine.h"
#include "services/sqs/queue_engine.h"

namespace esm::api {

class MockSources final : public SourceDirectory {
 public:
  MockSources(sqs::QueueEngine& queues, kinesis::StreamEngine& streams) : queues_(queues), streams_(streams) {}
  Status check_source(storage::Connection& c, const Mapping& m) override;

 private:
  sqs::QueueEngine& queues_;
  kinesis::StreamEngine& streams_;
};

}  // namespace esm::api
