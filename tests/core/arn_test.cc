#include <catch2/catch.hpp>

#include "core/arn.h"

using namespace esm;

TEST_CASE("a plain function name resolves with no region, account or qualifier") {
  auto r = parse_function_ref("my-fn");
  REQUIRE(r);
  CHECK(r->name == "my-fn");
  CHECK(r->qualifier.empty());
  CHECK(r->region.empty());
}

TEST_CASE("name:qualifier keeps the qualifier as given, $LATEST included") {
  CHECK(parse_function_ref("my-fn:$LATEST")->qualifier == "$LATEST");
  CHECK(parse_function_ref("my-fn:1")->qualifier == "1");
  CHECK(parse_function_ref("my-fn:prod")->qualifier == "prod");
}

TEST_CASE("full and partial function ARNs carry region and account") {
  auto full = parse_function_ref("arn:aws:lambda:eu-west-1:123456789012:function:my-fn:alias");
  REQUIRE(full);
  CHECK(full->region == "eu-west-1");
  CHECK(full->account == "123456789012");
  CHECK(full->name == "my-fn");
  CHECK(full->qualifier == "alias");
  auto partial = parse_function_ref("123456789012:function:my-fn");
  REQUIRE(partial);
  CHECK(partial->account == "123456789012");
  CHECK(partial->region.empty());
}

TEST_CASE("malformed function names are refused") {
  CHECK_FALSE(parse_function_ref(""));
  CHECK_FALSE(parse_function_ref("bad name"));
  CHECK_FALSE(parse_function_ref("a:b:c"));
  CHECK_FALSE(parse_function_ref("arn:aws:sqs:us-east-1:123456789012:function:x"));
  CHECK_FALSE(parse_function_ref(std::string(65, 'a')));
}

TEST_CASE("parse_arn splits the six parts and keeps colons in the resource") {
  auto a = parse_arn("arn:aws:lambda:us-east-1:000000000000:event-source-mapping:abc");
  REQUIRE(a);
  CHECK(a->service == "lambda");
  CHECK(a->resource == "event-source-mapping:abc");
  CHECK_FALSE(parse_arn("not-an-arn"));
}
