#pragma once
// KinesisApi: the Kinesis Data Streams wire protocol on esmd's one port — JSON 1.1
// (`X-Amz-Target: Kinesis_20131202.<Op>`, application/x-amz-json-1.1), with AWS's error types
// in `__type`. Each operation (api/kinesis/ops.h) is checked against the service model here
// (ValidationException, SerializationException), then run on the StreamEngine.
//
// Threading: handle() parses and validates on an I/O thread; the operation runs as a DbWorker
// job (the StreamEngine lives there); the reply is sent after the commit, and a failed commit
// is answered with InternalFailure whatever the operation computed. Reads (Describe*, List*,
// GetShardIterator, GetRecords) go in relaxed jobs: they change nothing that must be synced.

#include <string>

#include "api/http.h"
#include "core/clock.h"
#include "services/kinesis/stream_engine.h"
#include "storage/db_worker.h"

namespace esm::api {

class KinesisApi {
 public:
  KinesisApi(storage::DbWorker& db, kinesis::StreamEngine& streams, const Clock& clock)
      : db_(db), streams_(streams), clock_(clock) {}

  static bool matches(const Request& req);
  void handle(Request req, Reply reply);

 private:
  storage::DbWorker& db_;
  kinesis::StreamEngine& streams_;
  const Clock& clock_;
};

}  // namespace esm::api
