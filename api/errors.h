#pragma once
// The one table from an internal Status code to what the Lambda REST-JSON protocol puts on the
// wire: HTTP status, X-Amzn-Errortype, and the body member casing AWS uses for that type
// (control-plane.md §2).

#include <string>
#include <string_view>

#include "api/http.h"
#include "core/status.h"
#include "services/kinesis/error.h"
#include "services/sqs/errors.h"

namespace esm::api {

Response lambda_error(const Status& s);
// 403 AccessDeniedException in Lambda's shape: refused by esmd's own security rules (an exec:
// target over HTTP, a Host, an Origin; README "Security").
Response lambda_access_denied(const std::string& message);
// The Kinesis JSON 1.1 table (api/errors_kinesis.cc): a stream service error on the wire.
Response kinesis_error(const kinesis::KinesisError& e);

// Model-layer message: `1 validation error detected: Value '<v>' at '<member>' failed to
// satisfy constraint: <constraint>`. Pass value "null" (unquoted) via value_is_null.
std::string validation_message(const std::string& value, const std::string& member, const std::string& constraint,
                               bool value_is_null = false);

// ---- SQS (api/errors_sqs.cc): one table for both of its protocols --------------------------

enum class SqsCode {
  kNonExistentQueue,
  kQueueAlreadyExists,
  kInvalidParameterValue,
  kMissingParameter,
  kInvalidAttributeName,
  kInvalidAttributeValue,
  kReceiptHandleIsInvalid,
  kMessageNotInflight,
  kPurgeQueueInProgress,
  kInvalidMessageContents,
  kTooManyEntriesInBatchRequest,
  kEmptyBatchRequest,
  kBatchEntryIdsNotDistinct,
  kInvalidBatchEntryId,
  kBatchRequestTooLong,
  kInvalidAction,
  kRequestEntityTooLarge,
  kInternalError,
};

struct SqsWireShape {
  const char* query_code;  // Code in the query protocol's XML; x-amzn-query-error in JSON
  const char* json_type;   // __type shape name in the JSON protocol
  int status;
  bool sender_fault;
};
SqsWireShape sqs_wire_shape(SqsCode code);

// An SQS error as the client reads it, in either protocol.
struct SqsFault {
  SqsCode code;
  std::string message;
};
// The queue service's typed error in AWS's words.
SqsFault sqs_fault(const sqs::Error& e);
// A refused job or a failed commit.
SqsFault sqs_fault(const Status& s);
SqsFault sqs_missing_parameter(std::string_view name);
// Client input echoed in an error message: at most 256 characters, printable ASCII, so that
// the XML and JSON answers stay well formed.
std::string printable(std::string_view s);
inline std::string sqs_printable(std::string_view s) { return printable(s); }

}  // namespace esm::api
