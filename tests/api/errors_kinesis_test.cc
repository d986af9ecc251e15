#include <catch2/catch.hpp>

#include <string>

#include "api/errors.h"
#include "api/kinesis/wire.h"

using namespace esm;
using esm::api::kinesis_error;
using esm::kinesis::ErrorKind;
using esm::kinesis::KinesisError;

namespace {

std::string header(const api::Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "<absent>";
}

KinesisError stream_error(ErrorKind kind) {
  KinesisError e(kind);
  e.stream = "clicks";
  e.account = "123456789012";
  return e;
}

}  // namespace

TEST_CASE("a Kinesis service error goes on the wire as its __type with AWS's message, status 400") {
  const api::Response r = kinesis_error(stream_error(ErrorKind::kStreamNotFound));
  CHECK(r.status == 400);
  CHECK(r.content_type == "application/x-amz-json-1.1");
  CHECK(header(r, "x-amzn-ErrorType") == "ResourceNotFoundException");
  CHECK(r.body ==
        R"({"__type":"ResourceNotFoundException","message":"Stream clicks under account 123456789012 not found."})");
}

TEST_CASE("each Kinesis error kind has the error type AWS uses for it") {
  using api::kinesis_wire::ErrorType;
  struct Row {
    ErrorKind kind;
    ErrorType type;
  };
  const Row rows[] = {
      {ErrorKind::kStreamExists, ErrorType::kResourceInUse},
      {ErrorKind::kShardLimitExceeded, ErrorType::kLimitExceeded},
      {ErrorKind::kTooManyTags, ErrorType::kLimitExceeded},
      {ErrorKind::kRecordTooLarge, ErrorType::kInvalidArgument},
      {ErrorKind::kThroughputExceeded, ErrorType::kProvisionedThroughputExceeded},
      {ErrorKind::kRetentionTooShort, ErrorType::kInvalidArgument},
      {ErrorKind::kShardNotFound, ErrorType::kResourceNotFound},
      {ErrorKind::kInvalidIterator, ErrorType::kInvalidArgument},
      {ErrorKind::kIteratorExpired, ErrorType::kExpiredIterator},
      {ErrorKind::kIteratorShardGone, ErrorType::kResourceNotFound},
  };
  for (const auto& row : rows) CHECK(api::kinesis_wire::describe(stream_error(row.kind)).type == row.type);
}

TEST_CASE("a Kinesis storage failure is a 500 InternalFailure") {
  const api::Response r = kinesis_error(KinesisError(internal_error("disk I/O error")));
  CHECK(r.status == 500);
  CHECK(header(r, "x-amzn-ErrorType") == "InternalFailure");
}

TEST_CASE("an expired iterator names both times as Java prints them, and the tolerated delay") {
  KinesisError e(ErrorKind::kIteratorExpired);
  e.issued_ms = 1700000000000;
  e.now_ms = 1700000400000;
  e.limit = 300000;
  CHECK(api::kinesis_wire::describe(e).message ==
        "Iterator expired. The iterator was created at time Tue Nov 14 22:13:20 UTC 2023 while right now it is "
        "Tue Nov 14 22:20:00 UTC 2023 which is further in the future than the tolerated delay of 300000 "
        "milliseconds.");
}

TEST_CASE("an operation esmd does not serve is UnknownOperationException naming it, echoed printable") {
  using api::kinesis_wire::ErrorType;
  const auto split = api::kinesis_wire::unknown_operation("SplitShard");
  CHECK(split.type == ErrorType::kUnknownOperation);
  CHECK(split.message == "The operation SplitShard is not supported by esmd.");
  CHECK(api::kinesis_wire::unknown_operation("Caf\xc3\xa9").message == "The operation Caf?? is not supported by esmd.");
  CHECK(api::kinesis_wire::unknown_operation(std::string(300, 'A')).message.size() ==
        std::string("The operation  is not supported by esmd.").size() + 256);
}
