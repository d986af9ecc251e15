#include <catch2/catch.hpp>

#include <string>

#include "api/errors.h"

using namespace esm;
using namespace esm::api;

namespace {
std::string header(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "<absent>";
}
}  // namespace

TEST_CASE("each status code maps to AWS's HTTP status, error type and body member casing") {
  struct Row {
    Code code;
    int status;
    const char* type;
    const char* body;
  };
  const Row rows[] = {
      {Code::kInvalidParameter, 400, "InvalidParameterValueException", R"({"Type":"User","message":"m"})"},
      {Code::kValidation, 400, "ValidationException", R"({"message":"m"})"},
      {Code::kNotFound, 404, "ResourceNotFoundException", R"({"Type":"User","Message":"m"})"},
      {Code::kConflict, 409, "ResourceConflictException", R"({"Type":"User","message":"m"})"},
      {Code::kInUse, 400, "ResourceInUseException", R"({"Type":"User","Message":"m"})"},
      {Code::kTooLarge, 413, "RequestEntityTooLargeException", R"({"Type":"User","message":"m"})"},
      {Code::kUnknownOperation, 404, "UnknownOperationException", R"({"message":"m"})"},
      {Code::kInternal, 500, "ServiceException", R"({"Type":"Service","Message":"m"})"},
  };
  for (const Row& row : rows) {
    INFO(row.type);
    Response r = lambda_error({row.code, "m"});
    CHECK(r.status == row.status);
    CHECK(header(r, "X-Amzn-Errortype") == row.type);
    CHECK(r.content_type == "application/json");
    CHECK(r.body == row.body);
  }
}

TEST_CASE("error messages are JSON-escaped in the body") {
  Response r = lambda_error(conflict(R"(An event source mapping with SQS arn (" a ") already exists)"));
  CHECK(r.body == R"({"Type":"User","message":"An event source mapping with SQS arn (\" a \") already exists"})");
}

TEST_CASE("the Type member comes first, as in AWS's raw bodies") {
  Response r = lambda_error(not_found("The resource you requested does not exist."));
  CHECK(r.body == R"({"Type":"User","Message":"The resource you requested does not exist."})");
}

TEST_CASE("validation_message quotes the value, or writes null unquoted") {
  CHECK(validation_message("0", "batchSize", "Member must have value greater than or equal to 1") ==
        "1 validation error detected: Value '0' at 'batchSize' failed to satisfy constraint: Member must have value "
        "greater than or equal to 1");
  CHECK(validation_message("", "functionName", "Member must not be null", true) ==
        "1 validation error detected: Value null at 'functionName' failed to satisfy constraint: Member must not be "
        "null");
}

TEST_CASE("esmd's own security refusals are 403 AccessDeniedException in Lambda's shape") {
  Response r = lambda_access_denied("no \"exec\"");
  CHECK(r.status == 403);
  CHECK(header(r, "X-Amzn-Errortype") == "AccessDeniedException");
  CHECK(r.body == R"({"Type":"User","Message":"no \"exec\""})");
}
