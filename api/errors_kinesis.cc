// The Kinesis JSON 1.1 error table: each error type's HTTP status, and the wording AWS uses for
// each service error (services/kinesis/error.h).

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <ctime>

#include "api/errors.h"
#include "api/kinesis/wire.h"
#include "services/kinesis/sequence.h"

namespace esm::api {
namespace kinesis_wire {
namespace {

using esm::kinesis::ErrorKind;
using esm::kinesis::KinesisError;

// Java's Date.toString() in UTC, as AWS prints times in ExpiredIteratorException.
std::string java_date(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %d %H:%M:%S UTC %Y", &tm);
  return buf;
}

std::string n(std::int64_t v) { return std::to_string(v); }

std::string stream_in_account(const KinesisError& e) { return "stream " + e.stream + " under account " + e.account; }

WireError retention(const KinesisError& e) {
  const std::string asked = "Requested retention period (" + n(e.requested) + " hours)";
  switch (e.kind) {
    case ErrorKind::kRetentionTooShort:
      return {ErrorType::kInvalidArgument, "Minimum allowed retention period is " + n(e.limit) + " hours. " + asked +
                                               " is too short."};
    case ErrorKind::kRetentionTooLong:
      return {ErrorType::kInvalidArgument, "Maximum allowed retention period is " + n(e.limit) + " hours. " + asked +
                                               " is too long."};
    case ErrorKind::kRetentionNotLonger:
      return {ErrorType::kInvalidArgument, asked + " for stream " + e.stream +
                                               " can not be shorter than existing retention period (" + n(e.current) +
                                               " hours). Use DecreaseRetentionPeriod API."};
    default:
      return {ErrorType::kInvalidArgument, asked + " for stream " + e.stream +
                                               " can not be longer than existing retention period (" + n(e.current) +
                                               " hours). Use IncreaseRetentionPeriod API."};
  }
}

WireError iterator(const KinesisError& e) {
  switch (e.kind) {
    case ErrorKind::kShardNotFound:
      return {ErrorType::kResourceNotFound, "Shard " + e.shard_id + " in " + stream_in_account(e) + " does not exist"};
    case ErrorKind::kSequenceNumberMissing:
      return {ErrorType::kInvalidArgument, "Must specify StartingSequenceNumber for " + e.value + " ShardIteratorType."};
    case ErrorKind::kSequenceNumberInvalid:
      return {ErrorType::kInvalidArgument, "StartingSequenceNumber " + e.value + " used in GetShardIterator on shard " +
                                               e.shard_id + " in " + stream_in_account(e) + " is invalid."};
    case ErrorKind::kSequenceNumberOtherShard:
      return {ErrorType::kInvalidArgument, "Invalid StartingSequenceNumber. It encodes " +
                                               esm::kinesis::shard_id_of(e.shard) +
                                               ", while it was used in a call to a shard with " + e.shard_id};
    case ErrorKind::kTimestampMissing:
      return {ErrorType::kInvalidArgument,
              "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no "
              "timestamp parameter."};
    case ErrorKind::kTimestampInFuture:
      return {ErrorType::kInvalidArgument,
              "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
              "timestampInMillis: " + n(e.requested) + ", currentTimestampInMillis: " + n(e.now_ms)};
    case ErrorKind::kInvalidIterator: return {ErrorType::kInvalidArgument, "Invalid ShardIterator."};
    case ErrorKind::kIteratorExpired:
      return {ErrorType::kExpiredIterator, "Iterator expired. The iterator was created at time " +
                                               java_date(e.issued_ms) + " while right now it is " +
                                               java_date(e.now_ms) +
                                               " which is further in the future than the tolerated delay of " +
                                               n(e.limit) + " milliseconds."};
    default:  // kIteratorShardGone
      return {ErrorType::kResourceNotFound, "Shard " + esm::kinesis::shard_id_of(e.shard) + " in stream with id " +
                                                n(e.stream_id) + " under account " + e.account + " does not exist"};
  }
}

}  // namespace

const char* type_name(ErrorType type) {
  switch (type) {
    case ErrorType::kResourceNotFound: return "ResourceNotFoundException";
    case ErrorType::kResourceInUse: return "ResourceInUseException";
    case ErrorType::kInvalidArgument: return "InvalidArgumentException";
    case ErrorType::kLimitExceeded: return "LimitExceededException";
    case ErrorType::kExpiredIterator: return "ExpiredIteratorException";
    case ErrorType::kValidation: return "ValidationException";
    case ErrorType::kProvisionedThroughputExceeded: return "ProvisionedThroughputExceededException";
    case ErrorType::kSerialization: return "SerializationException";
    case ErrorType::kUnknownOperation: return "UnknownOperationException";
    case ErrorType::kInternalFailure: break;
  }
  return "InternalFailure";
}

WireError unknown_operation(std::string_view name) {
  return {ErrorType::kUnknownOperation, "The operation " + printable(name) + " is not supported by esmd."};
}

WireError describe(const KinesisError& e) {
  switch (e.kind) {
    case ErrorKind::kStreamNotFound:
      return {ErrorType::kResourceNotFound, "Stream " + e.stream + " under account " + e.account + " not found."};
    case ErrorKind::kStreamExists:
      return {ErrorType::kResourceInUse, "Stream " + e.stream + " under account " + e.account + " already exists."};
    case ErrorKind::kStreamUnnamed:
      return {ErrorType::kInvalidArgument, "Either StreamName or StreamARN must be provided."};
    case ErrorKind::kArnNameMismatch:
      return {ErrorType::kInvalidArgument, "StreamARN " + e.value + " does not match StreamName " + e.stream + "."};
    case ErrorKind::kShardCountTooLow: return {ErrorType::kInvalidArgument, "ShardCount must be at least 1."};
    case ErrorKind::kShardCountRequired:
      return {ErrorType::kInvalidArgument, "ShardCount is required for streams in PROVISIONED mode."};
    case ErrorKind::kShardCountNotSupported:
      return {ErrorType::kInvalidArgument, "ShardCount is not supported for streams in ON_DEMAND mode."};
    case ErrorKind::kShardLimitExceeded:
      return {ErrorType::kLimitExceeded,
              "This request would exceed the shard limit for the account " + e.account + " in " + e.region +
                  ". Current shard count for the account: " + n(e.current) + ". Limit: " + n(e.limit) +
                  ". Number of additional shards that would have resulted from this request: " + n(e.requested) +
                  ". Refer to the AWS Service Limits page (https://docs.aws.amazon.com/general/latest/gr/"
                  "aws_service_limits.html) for current limits and how to request higher limits."};
    case ErrorKind::kRecordTooLarge:
      return {ErrorType::kInvalidArgument, "Record size exceeds the maximum allowed record size of " + n(e.limit) +
                                               " bytes (data and partition key together): " + n(e.requested) +
                                               " bytes."};
    case ErrorKind::kInvalidHashKey:
      return {ErrorType::kInvalidArgument,
              "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was " +
                  e.value};
    case ErrorKind::kThroughputExceeded:
      return {ErrorType::kProvisionedThroughputExceeded,
              "Rate exceeded for shard " + e.shard_id + " in " + stream_in_account(e) + "."};
    case ErrorKind::kTooManyTags:
      return {ErrorType::kLimitExceeded, "Failed to add tags to " + stream_in_account(e) +
                                             " because a given stream cannot have more than " + n(e.limit) +
                                             " tags."};
    case ErrorKind::kRetentionTooShort:
    case ErrorKind::kRetentionTooLong:
    case ErrorKind::kRetentionNotLonger:
    case ErrorKind::kRetentionNotShorter: return retention(e);
    case ErrorKind::kShardNotFound:
    case ErrorKind::kSequenceNumberMissing:
    case ErrorKind::kSequenceNumberInvalid:
    case ErrorKind::kSequenceNumberOtherShard:
    case ErrorKind::kTimestampMissing:
    case ErrorKind::kTimestampInFuture:
    case ErrorKind::kInvalidIterator:
    case ErrorKind::kIteratorExpired:
    case ErrorKind::kIteratorShardGone: return iterator(e);
    case ErrorKind::kStorage: break;
  }
  return {ErrorType::kInternalFailure, e.cause.message()};
}

Response json_response(std::string body) {
  Response r;
  r.content_type = "application/x-amz-json-1.1";
  r.body = std::move(body);
  return r;
}

Response error_response(const WireError& e) {
  const char* type = type_name(e.type);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("__type");
  w.String(type);
  w.Key("message");
  w.String(e.message.c_str(), static_cast<rapidjson::SizeType>(e.message.size()));
  w.EndObject();
  Response r = json_response({buf.GetString(), buf.GetSize()});
  r.status = e.type == ErrorType::kInternalFailure ? 500 : 400;
  r.headers.emplace_back("x-amzn-ErrorType", type);
  return r;
}

}  // namespace kinesis_wire

Response kinesis_error(const esm::kinesis::KinesisError& e) {
  return kinesis_wire::error_response(kinesis_wire::describe(e));
}

}  // namespace esm::api
