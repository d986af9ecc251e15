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

// control-plane.md §9: every FunctionName form AWS accepted, and the FunctionArn it produced.
TEST_CASE("each FunctionName form of the reference normalises to the recorded FunctionArn") {
  struct Row {
    const char* sent;
    const char* expected;
  };
  const Row rows[] = {
      {"my-fn", "arn:aws:lambda:us-east-1:123456789012:function:my-fn"},
      {"my-fn:$LATEST", "arn:aws:lambda:us-east-1:123456789012:function:my-fn:$LATEST"},
      {"my-fn:1", "arn:aws:lambda:us-east-1:123456789012:function:my-fn:1"},
      {"my-fn:myalias", "arn:aws:lambda:us-east-1:123456789012:function:my-fn:myalias"},
      {"arn:aws:lambda:us-east-1:123456789012:function:my-fn", "arn:aws:lambda:us-east-1:123456789012:function:my-fn"},
      {"arn:aws:lambda:us-east-1:123456789012:function:my-fn:1",
       "arn:aws:lambda:us-east-1:123456789012:function:my-fn:1"},
      {"arn:aws:lambda:us-east-1:123456789012:function:my-fn:myalias",
       "arn:aws:lambda:us-east-1:123456789012:function:my-fn:myalias"},
      {"123456789012:function:my-fn", "arn:aws:lambda:us-east-1:123456789012:function:my-fn"},
  };
  for (const Row& row : rows) {
    INFO("FunctionName " << row.sent);
    auto ref = parse_function_ref(row.sent);
    REQUIRE(ref);
    CHECK(function_arn("us-east-1", "123456789012", ref->name, ref->qualifier) == row.expected);
  }
}

TEST_CASE("a partial ARN names its account but leaves the region to the caller") {
  auto ref = parse_function_ref("123456789012:function:my-fn:2");
  REQUIRE(ref);
  CHECK(ref->account == "123456789012");
  CHECK(ref->region.empty());
  CHECK(ref->name == "my-fn");
  CHECK(ref->qualifier == "2");
}

TEST_CASE("$LATEST.PUBLISHED is a valid qualifier but a dotted alias is not") {
  CHECK(parse_function_ref("my-fn:$LATEST.PUBLISHED"));
  CHECK_FALSE(parse_function_ref("my-fn:a.b"));
  CHECK_FALSE(parse_function_ref("my-fn:"));
  CHECK_FALSE(parse_function_ref("my-fn:$OTHER"));
}

TEST_CASE("function ARNs of another service, a bad account or a missing region are refused") {
  CHECK_FALSE(parse_function_ref("arn:aws:lambda:us-east-1:1234:function:my-fn"));
  CHECK_FALSE(parse_function_ref("arn:aws:lambda::123456789012:function:my-fn"));
  CHECK_FALSE(parse_function_ref("arn:aws:lambda:us-east-1:123456789012:layer:my-fn"));
  CHECK_FALSE(parse_function_ref("12345:function:my-fn"));
  CHECK_FALSE(parse_function_ref("arn:aws:lambda:us-east-1:123456789012:function:my-fn:1:extra"));
}

TEST_CASE("mapping ARNs carry region, account and UUID") {
  CHECK(mapping_arn("eu-west-1", "123456789012", "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f") ==
        "arn:aws:lambda:eu-west-1:123456789012:event-source-mapping:6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f");
  CHECK(function_arn("us-east-1", "000000000000", "f") == "arn:aws:lambda:us-east-1:000000000000:function:f");
}

TEST_CASE("resource_name is the last path part of queue, stream and table-stream ARNs") {
  CHECK(resource_name(*parse_arn("arn:aws:sqs:us-east-1:123456789012:orders")) == "orders");
  CHECK(resource_name(*parse_arn("arn:aws:kinesis:us-east-1:123456789012:stream/clicks")) == "clicks");
  CHECK(resource_name(*parse_arn("arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000")) ==
        "t");
}

TEST_CASE("an MSK cluster ARN names the kafka service, a region, an account, a cluster name and its id") {
  CHECK(is_msk_cluster_arn("arn:aws:kafka:us-east-1:123456789012:cluster/demo/6357e0b2-0e6a-4b86-a0b4-70df934c2e31-5"));
  CHECK(is_msk_cluster_arn("arn:aws-cn:kafka:cn-north-1:123456789012:cluster/my_cluster-2/abc"));
  CHECK_FALSE(is_msk_cluster_arn("arn:aws:kafka:us-east-1:123456789012:cluster/demo"));
  CHECK_FALSE(is_msk_cluster_arn("arn:aws:kafka:us-east-1:123456789012:cluster/demo/"));
  CHECK_FALSE(is_msk_cluster_arn("arn:aws:kafka:us-east-1:123456789012:cluster//abc"));
  CHECK_FALSE(is_msk_cluster_arn("arn:aws:kafka:us-east-1:123456789012:cluster/demo/abc/extra"));
  CHECK_FALSE(is_msk_cluster_arn("arn:aws:kafka:us-east-1:123456789012:topic/demo/abc/t"));
  CHECK_FALSE(is_msk_cluster_arn("arn:aws:kafka::123456789012:cluster/demo/abc"));
  CHECK_FALSE(is_msk_cluster_arn("arn:aws:kafka:us-east-1:1234:cluster/demo/abc"));
  CHECK_FALSE(is_msk_cluster_arn("arn:aws:kinesis:us-east-1:123456789012:stream/demo"));
  CHECK_FALSE(is_msk_cluster_arn("arn:aws:kafka:us-east-1:123456789012:cluster/de mo/abc"));
  CHECK_FALSE(is_msk_cluster_arn("arn:aws:kafka:us-east-1:123456789012:cluster/" + std::string(65, 'a') + "/abc"));
  CHECK_FALSE(is_msk_cluster_arn("not-an-arn"));
  CHECK_FALSE(is_msk_cluster_arn(""));
}
