#include <catch2/catch.hpp>

#include "api/errors.h"
#include "api/model_check.h"

using namespace esm;
using namespace esm::api;
using sqs::Error;
using sqs::ErrorKind;

TEST_CASE("the queue service's typed errors are worded as SQS words them") {
  struct Row {
    Error error;
    SqsCode code;
    const char* message;
  };
  const Row rows[] = {
      {Error{ErrorKind::kNonExistentQueue}, SqsCode::kNonExistentQueue, "The specified queue does not exist."},
      {Error{ErrorKind::kInvalidAttributeName, "Colour"}, SqsCode::kInvalidAttributeName, "Unknown Attribute Colour."},
      {Error{ErrorKind::kInvalidAttributeValue, "DelaySeconds"}, SqsCode::kInvalidAttributeValue,
       "Invalid value for the parameter DelaySeconds."},
      {Error{ErrorKind::kOutOfRange, "VisibilityTimeout", {}, 43201, 0, 43200}, SqsCode::kInvalidParameterValue,
       "Value 43201 for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."},
      {Error{ErrorKind::kOutOfRange, "DelaySeconds", {}, 901, 0, 900}, SqsCode::kInvalidParameterValue,
       "Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."},
      {Error{ErrorKind::kTooManyMessageAttributes, {}, {}, 11, 0, 10}, SqsCode::kInvalidParameterValue,
       "Number of message attributes [11] exceeds the allowed maximum [10]."},
      {Error{ErrorKind::kMissingParameter, "MessageGroupId"}, SqsCode::kMissingParameter,
       "The request must contain the parameter MessageGroupId."},
      {Error{ErrorKind::kInvalidReceiptHandle, "ReceiptHandle", "x\ny"}, SqsCode::kReceiptHandleIsInvalid,
       "The input receipt handle \"x?y\" is not a valid receipt handle."},
      {Error{ErrorKind::kMessageNotInflight}, SqsCode::kMessageNotInflight,
       "Message does not exist or is not available for visibility timeout change."},
      {Error{ErrorKind::kPurgeQueueInProgress, "orders"}, SqsCode::kPurgeQueueInProgress,
       "Only one PurgeQueue operation on orders is allowed every 60 seconds."},
  };
  for (const auto& row : rows) {
    INFO(sqs::kind_name(row.error.kind));
    const SqsFault f = sqs_fault(row.error);
    CHECK(f.code == row.code);
    CHECK(f.message == row.message);
  }
}

TEST_CASE("each SQS code has its query code, JSON type, HTTP status and fault side") {
  const SqsWireShape missing = sqs_wire_shape(SqsCode::kNonExistentQueue);
  CHECK(std::string(missing.query_code) == "AWS.SimpleQueueService.NonExistentQueue");
  CHECK(std::string(missing.json_type) == "QueueDoesNotExist");
  CHECK(missing.status == 400);
  CHECK(missing.sender_fault);
  const SqsWireShape purge = sqs_wire_shape(SqsCode::kPurgeQueueInProgress);
  CHECK(std::string(purge.query_code) == "AWS.SimpleQueueService.PurgeQueueInProgress");
  CHECK(std::string(purge.json_type) == "PurgeQueueInProgress");
  CHECK(purge.status == 400);
  CHECK(purge.sender_fault);
  const SqsWireShape internal = sqs_wire_shape(sqs_fault(internal_error("disk")).code);
  CHECK(internal.status == 500);
  CHECK_FALSE(internal.sender_fault);
}

TEST_CASE("ModelCheck counts its violations and joins them as AWS does") {
  ModelCheck ck;
  CHECK(ck.ok());
  CHECK(ck.message().empty());
  ck.range("batchSize", 0, 1, 10000);
  CHECK(ck.message() ==
        "1 validation error detected: Value '0' at 'batchSize' failed to satisfy constraint: Member must have value "
        "greater than or equal to 1");
  ck.null("functionName");
  ck.one_of("startingPosition", "NOW", {"TRIM_HORIZON", "LATEST"});
  CHECK(ck.count() == 3);
  CHECK(ck.message() ==
        "3 validation errors detected: Value '0' at 'batchSize' failed to satisfy constraint: Member must have value "
        "greater than or equal to 1; Value null at 'functionName' failed to satisfy constraint: Member must not be "
        "null; Value 'NOW' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: "
        "[TRIM_HORIZON, LATEST]");
}
