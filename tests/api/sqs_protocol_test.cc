// The SQS query protocol's decoding (api/sqs/protocol.h): flat Key.N.Sub=value pairs into the
// JSON protocol's request shape.
#include <catch2/catch.hpp>

#include <string>

#include "api/http.h"
#include "api/sqs/protocol.h"

using namespace esm::api;
using namespace esm::api::sqs_wire;

namespace {

ParsedRequest parse_form(const std::string& body) {
  Request req;
  req.method = "POST";
  req.target = "/";
  req.body = body;
  split_target(req);
  ParsedRequest out;
  SqsFault fault;
  REQUIRE(parse_request(req, out, fault));
  REQUIRE(out.protocol == Protocol::kQuery);
  return out;
}

}  // namespace

TEST_CASE("the deepest keys of the query shapes are decoded") {
  auto p = parse_form(
      "Action=SendMessageBatch&SendMessageBatchRequestEntry.1.Id=a"
      "&SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=n"
      "&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringListValue.1=x");
  CHECK(p.op == "SendMessageBatch");
  const auto& entries = (*p.in)["Entries"];
  REQUIRE(entries.IsArray());
  CHECK(std::string(entries[0]["Id"].GetString()) == "a");
  const auto& value = entries[0]["MessageAttributes"]["n"];
  REQUIRE(value.IsObject());
  CHECK(std::string(value["StringListValue"][0].GetString()) == "x");
}

// Found while writing fuzz/sqs_input.cc (by reading the decoder: libFuzzer's 4 KB inputs are too
// short to overflow a stack). A form body of one key with a million dots built a tree
// a million levels deep, which the decoder walked (and freed) recursively: a stack overflow
// that killed esmd. Keys deeper than any SQS shape are now ignored.
TEST_CASE("a query key nested a million levels deep is ignored, not walked") {
  std::string key;
  for (int i = 0; i < 1'000'000; ++i) key += "a.";
  auto p = parse_form("Action=SendMessage&" + key + "b=1&MessageBody=hi");
  CHECK(p.op == "SendMessage");
  CHECK_FALSE(p.in->HasMember("a"));
  CHECK(std::string((*p.in)["MessageBody"].GetString()) == "hi");
}
