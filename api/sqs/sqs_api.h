#pragma once
// SqsApi: the SQS front-end. Parses either wire protocol (api/sqs/protocol.h), finds the
// operation in the table (api/sqs/operation.h), runs it as a DbWorker job against the queue
// service, and answers in the caller's protocol after the commit.
//
// Threading: handle() parses on an I/O thread; the operation runs as a DbWorker job (the
// QueueEngine lives there); the reply is sent after the commit.

#include <string>

#include "api/http.h"
#include "core/clock.h"
#include "services/sqs/queue_engine.h"
#include "storage/db_worker.h"

namespace esm::api {

class SqsApi {
 public:
  SqsApi(storage::DbWorker& db, sqs::QueueEngine& queues, const Clock& clock, std::string account)
      : db_(db), queues_(queues), clock_(clock), account_(std::move(account)) {}

  static bool matches(const Request& req);
  void handle(Request req, Reply reply);

 private:
  storage::DbWorker& db_;
  sqs::QueueEngine& queues_;
  const Clock& clock_;
  std::string account_;
};

}  // namespace esm::api
