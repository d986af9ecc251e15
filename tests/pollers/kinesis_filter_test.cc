// The view a Kinesis record shows FilterCriteria (filtering.md §6, §9.8).
#include "pollers/kinesis_filter.h"

#include <catch2/catch.hpp>

namespace esm::pollers {
namespace {

const std::string kArn = "arn:aws:kinesis:us-east-1:123456789012:stream/orders";
const std::string kShard = "shardId-000000000000";

kinesis::StreamRecord record(std::string data, std::string key = "pk-1") {
  kinesis::StreamRecord r;
  r.sequence_number = "49590338271490256608559692538361571095921575989136588898";
  r.partition_key = std::move(key);
  r.data = std::move(data);
  r.arrival_ms = 1732900800123;
  return r;
}

bool passes(const char* pattern, const kinesis::StreamRecord& r) {
  auto f = EventFilter::compile({pattern});
  REQUIRE(f);
  return kinesis_record_passes(*f, r, kShard, kArn, "us-east-1");
}

TEST_CASE("a Kinesis filter sees data decoded and parsed when it is JSON") {
  const auto r = record(R"({"kind":"order","total":150})");
  CHECK(passes(R"({"data": {"kind": ["order"]}})", r));
  CHECK(passes(R"({"data": {"total": [{"numeric": [">", 100]}]}})", r));
  CHECK_FALSE(passes(R"({"data": {"kind": ["refund"]}})", r));
  CHECK_FALSE(passes(R"({"data": [{"prefix": "{"}]})", r));
}

TEST_CASE("a Kinesis filter sees plain data as a string and non-UTF-8 data as absent") {
  CHECK(passes(R"({"data": [{"prefix": "PING"}]})", record("PING 1")));
  CHECK_FALSE(passes(R"({"data": {"kind": ["order"]}})", record("kind=order")));
  CHECK(passes(R"({"data": [{"exists": false}]})", record(std::string("\xff\x00\x01", 3))));
  CHECK_FALSE(passes(R"({"data": [{"exists": true}]})", record(std::string("\xff\x00\x01", 3))));
}

TEST_CASE("a Kinesis filter sees the record's metadata at the top level") {
  const auto r = record("{}", "tenant-42");
  CHECK(passes(R"({"partitionKey": [{"prefix": "tenant-"}]})", r));
  CHECK(passes(R"({"eventSource": ["aws:kinesis"], "eventSourceARN": [{"suffix": "/orders"}]})", r));
  CHECK(passes(R"({"eventID": [{"prefix": "shardId-000000000000:4959"}], "awsRegion": ["us-east-1"]})", r));
  CHECK(passes(R"({"approximateArrivalTimestamp": [{"numeric": [">", 1732900800]}]})", r));
  CHECK(passes(R"({"kinesisSchemaVersion": ["1.0"], "eventName": ["aws:kinesis:record"]})", r));
}

TEST_CASE("without filters every Kinesis record passes") {
  CHECK(kinesis_record_passes(EventFilter(), record("x"), kShard, kArn, "us-east-1"));
}

}  // namespace
}  // namespace esm::pollers
