#pragma once
// The Kinesis JSON 1.1 protocol's errors: an error type (`__type`, x-amzn-ErrorType) and a
// message. The table from type to HTTP status and the wording of every service error are in
// api/errors_kinesis.cc.

#include <string>
#include <string_view>

#include "api/http.h"
#include "services/kinesis/error.h"

namespace esm::api::kinesis_wire {

enum class ErrorType {
  kResourceNotFound,
  kResourceInUse,
  kInvalidArgument,
  kLimitExceeded,
  kExpiredIterator,
  kValidation,
  kProvisionedThroughputExceeded,
  kSerialization,
  kUnknownOperation,
  kInternalFailure,
};

struct WireError {
  ErrorType type = ErrorType::kInternalFailure;
  std::string message;
};

// "ResourceNotFoundException", ...: the __type, and PutRecords' per-record ErrorCode.
const char* type_name(ErrorType type);
// The type and AWS's wording of a service error.
WireError describe(const esm::kinesis::KinesisError& e);
// A target esmd does not serve (resharding, enhanced fan-out, ... or no Kinesis operation at
// all): AWS's type, with a message naming the operation so that the CLI's reason is not blank.
WireError unknown_operation(std::string_view name);
// An application/x-amz-json-1.1 answer with this body.
Response json_response(std::string body);
// The error as Kinesis sends it: HTTP status, x-amzn-ErrorType and {"__type", "message"}.
Response error_response(const WireError& e);

}  // namespace esm::api::kinesis_wire
