#pragma once
// SqsApi: the SQS wire protocols on esmd's one port — the JSON protocol (X-Amz-Target:
// AmazonSQS.<Op>, used by current boto3 and AWS CLI v1) and the query protocol (Action=<Op>,
// form-encoded, XML answers; older SDKs and Debian's AWS CLI v2). Both are parsed into one
// JSON-shaped request, served by the same handler, and written back in the caller's protocol
// with that protocol's error format.
//
// Threading: handle() parses on an I/O thread; the operation runs as a DbWorker job (the
// QueueEngine lives there); the reply is sent after the commit.

#include <string>

#include "api/http.h"
#include "api/lambda_api.h"
#include "core/clock.h"
#include "storage/db_worker.h"
#include "storage/sqs_queues.h"

namespace esm::api {

class SqsApi {
 public:
  SqsApi(storage::DbWorker& db, storage::QueueEngine& queues, const Clock& clock, std::string account)
      : db_(db), queues_(queues), clock_(clock), account_(std::move(account)) {}

  static bool matches(const Request& req);
  void handle(Request req, Reply reply);

 private:
  storage::DbWorker& db_;
  storage::QueueEngine& queues_;
  const Clock& clock_;
  std::string account_;
};

}  // namespace esm::api
