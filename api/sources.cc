#include "api/sources.h"

namespace esm::api {

Status MockSources::check_source(storage::Connection&, const Mapping& m) {
  if (m.kind == SourceKind::kSqs && !queues_.find_by_arn(m.event_source_arn))
    return invalid_parameter(
        "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error "
        "Message: The specified queue does not exist.");
  if (m.kind == SourceKind::kKinesis && !streams_.find_by_arn(m.event_source_arn))
    return invalid_parameter("Stream not found: " + m.event_source_arn);
  return Status::ok();
}

}  // namespace esm::api
