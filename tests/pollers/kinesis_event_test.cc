#include "pollers/kinesis_event.h"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <regex>
#include <set>

#include "pollers/stream_policy.h"

namespace esm::pollers {
namespace {

const std::string kStream = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks";
const std::string kSeq = "49657432917102364598305117269431209875123098765432101234";

KinesisSource src() {
  return KinesisSource{kStream, "us-east-1", "shardId-000000000000", "arn:aws:iam::123456789012:role/count-clicks-role"};
}

kinesis::StreamRecord record(std::string data = R"({"page":"/home","user":"u-42"})", std::int64_t arrival = 1732900800123) {
  kinesis::StreamRecord r;
  r.index = 7;
  r.sequence_number = kSeq;
  r.partition_key = "user-42";
  r.data = std::move(data);
  r.arrival_ms = arrival;
  return r;
}

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str(), json.size());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

FailureRecord failure() {
  FailureRecord f;
  f.request_id = "5b0c4f6e-2d9a-4f1b-a3c8-7e6d5c4b3a21";
  f.function_arn = "arn:aws:lambda:us-east-1:123456789012:function:count-clicks";
  f.condition = Condition::kRetryAttemptsExhausted;
  f.approximate_invoke_count = 3;
  f.response = FailureResponse{200, "$LATEST", std::string("Unhandled")};
  f.timestamp_ms = 1732900809412;
  f.shard_id = "shardId-000000000000";
  f.start_sequence_number = kSeq;
  f.end_sequence_number = kSeq;
  f.first_arrival_ms = 1732900800123;
  f.last_arrival_ms = 1732900800480;
  f.batch_size = 2;
  f.stream_arn = kStream;
  return f;
}

TEST_CASE("a Kinesis record carries every field of the AWS event") {
  const std::string json = kinesis_record_json(record(), src());
  auto d = parse(json);
  const auto& k = d["kinesis"];
  CHECK(std::string(k["kinesisSchemaVersion"].GetString()) == "1.0");
  CHECK(std::string(k["partitionKey"].GetString()) == "user-42");
  CHECK(std::string(k["sequenceNumber"].GetString()) == kSeq);
  CHECK(std::string(k["data"].GetString()) == "eyJwYWdlIjoiL2hvbWUiLCJ1c2VyIjoidS00MiJ9");
  REQUIRE(k["approximateArrivalTimestamp"].IsNumber());
  CHECK(json.find("\"approximateArrivalTimestamp\":1732900800.123}") != std::string::npos);
  CHECK(std::string(d["eventSource"].GetString()) == "aws:kinesis");
  CHECK(std::string(d["eventVersion"].GetString()) == "1.0");
  CHECK(std::string(d["eventID"].GetString()) == "shardId-000000000000:" + kSeq);
  CHECK(std::string(d["eventName"].GetString()) == "aws:kinesis:record");
  CHECK(std::string(d["invokeIdentityArn"].GetString()) == "arn:aws:iam::123456789012:role/count-clicks-role");
  CHECK(std::string(d["awsRegion"].GetString()) == "us-east-1");
  CHECK(std::string(d["eventSourceARN"].GetString()) == kStream);
}

TEST_CASE("binary record data is base64 and a whole-second arrival keeps three decimals") {
  const std::string json = kinesis_record_json(record(std::string("\0\xff\x01", 3), 1732900800000), src());
  auto d = parse(json);
  CHECK(std::string(d["kinesis"]["data"].GetString()) == "AP8B");
  CHECK(json.find("\"approximateArrivalTimestamp\":1732900800.000}") != std::string::npos);
}

TEST_CASE("a partition key with quotes, control bytes and UTF-8 comes back whole") {
  auto r = record();
  r.partition_key = "a\"b\\c\n\x01 caf\xc3\xa9";
  auto d = parse(kinesis_record_json(r, src()));
  CHECK(std::string(d["kinesis"]["partitionKey"].GetString()) == r.partition_key);
}

TEST_CASE("the event wraps the records of a range and its size is known in advance") {
  std::vector<std::string> recs{kinesis_record_json(record(), src()), kinesis_record_json(record("x"), src()),
                                kinesis_record_json(record("yy"), src())};
  const std::string event = kinesis_event_json(recs, 1, 3);
  CHECK(event.size() == kinesis_event_size(2, recs[1].size() + recs[2].size()));
  auto d = parse(event);
  REQUIRE(d["Records"].Size() == 2);
  CHECK(std::string(d["Records"][0]["kinesis"]["data"].GetString()) == "eA==");
  CHECK(kinesis_event_json(recs, 0, 0) == R"({"Records":[]})");
}

TEST_CASE("a tumbling-window event carries the window, the state and the final flags") {
  std::vector<std::string> recs{kinesis_record_json(record(), src())};
  WindowFields w{1732900800000, 1732900920000, R"({"clicks":17})", true, false};
  const std::string event = kinesis_window_event_json(recs, 0, 1, w, src());
  auto d = parse(event);
  CHECK(d["Records"].Size() == 1);
  CHECK(std::string(d["window"]["start"].GetString()) == "2024-11-29T17:20:00Z");
  CHECK(std::string(d["window"]["end"].GetString()) == "2024-11-29T17:22:00Z");
  CHECK(d["state"]["clicks"].GetInt() == 17);
  CHECK(std::string(d["shardId"].GetString()) == "shardId-000000000000");
  CHECK(std::string(d["eventSourceARN"].GetString()) == kStream);
  CHECK(d["isFinalInvokeForWindow"].GetBool());
  CHECK_FALSE(d["isWindowTerminatedEarly"].GetBool());
  CHECK(event.size() == kinesis_event_size(1, recs[0].size()) + window_fields_size(w, src()));
}

TEST_CASE("a window response without an object state is not a valid window answer") {
  CHECK(window_state_of(R"({"state":{"n":1},"batchItemFailures":[]})") == R"({"n":1})");
  CHECK(window_state_of(R"({"state":{}})") == "{}");
  CHECK_FALSE(window_state_of(R"({"batchItemFailures":[]})"));
  CHECK_FALSE(window_state_of(""));
  CHECK_FALSE(window_state_of("null"));
  CHECK_FALSE(window_state_of(R"({"state":3})"));
}

TEST_CASE("a window state nested deeper than the limit is not a valid window answer, however deep") {
  auto nested = [](std::size_t depth) {
    std::string s;
    for (std::size_t i = 1; i < depth; ++i) s += R"({"a":)";
    s += "{}";
    s += std::string(depth - 1, '}');
    return s;
  };
  CHECK(window_state_of(R"({"state":)" + nested(kMaxWindowStateDepth) + "}") == nested(kMaxWindowStateDepth));
  CHECK_FALSE(window_state_of(R"({"state":)" + nested(kMaxWindowStateDepth + 1) + "}"));
  CHECK_FALSE(window_state_of(R"({"state":)" + nested(100'000) + "}"));
  CHECK_FALSE(window_state_of(R"({"state":)" + std::string(1'000'000, '[')));
  CHECK_FALSE(saved_window_of(R"({"start":0,"state":)" + nested(100'000) + "}"));
  auto w = saved_window_of(R"({"start":120000,"state":{"n":[1,{"m":2}]}})");
  REQUIRE(w);
  CHECK(w->start_ms == 120000);
  CHECK(w->state_json == R"({"n":[1,{"m":2}]})");
}

TEST_CASE("the failure record after a function error has the recorded shape") {
  auto d = parse(failure_record_json(failure()));
  CHECK(std::string(d["requestContext"]["requestId"].GetString()) == "5b0c4f6e-2d9a-4f1b-a3c8-7e6d5c4b3a21");
  CHECK(std::string(d["requestContext"]["condition"].GetString()) == "RetryAttemptsExhausted");
  CHECK(d["requestContext"]["approximateInvokeCount"].GetInt() == 3);
  CHECK(d["responseContext"]["statusCode"].GetInt() == 200);
  CHECK(std::string(d["responseContext"]["executedVersion"].GetString()) == "$LATEST");
  CHECK(std::string(d["responseContext"]["functionError"].GetString()) == "Unhandled");
  CHECK(std::string(d["version"].GetString()) == "1.0");
  CHECK(std::string(d["timestamp"].GetString()) == "2024-11-29T17:20:09.412Z");
  const auto& b = d["KinesisBatchInfo"];
  CHECK(std::string(b["shardId"].GetString()) == "shardId-000000000000");
  CHECK(std::string(b["startSequenceNumber"].GetString()) == kSeq);
  CHECK(std::string(b["approximateArrivalOfFirstRecord"].GetString()) == "2024-11-29T17:20:00.123Z");
  CHECK(std::string(b["approximateArrivalOfLastRecord"].GetString()) == "2024-11-29T17:20:00.480Z");
  CHECK(b["batchSize"].GetInt() == 2);
  CHECK(std::string(b["streamArn"].GetString()) == kStream);
}

TEST_CASE("partial-batch exhaustion reports a null functionError; record age has no responseContext") {
  FailureRecord f = failure();
  f.response->function_error.reset();
  auto d = parse(failure_record_json(f));
  CHECK(d["responseContext"]["functionError"].IsNull());

  f.condition = Condition::kRecordAgeExceeded;
  f.response.reset();
  f.approximate_invoke_count = 1;
  auto age = parse(failure_record_json(f));
  CHECK(std::string(age["requestContext"]["condition"].GetString()) == "RecordAgeExceeded");
  CHECK_FALSE(age.HasMember("responseContext"));
}

TEST_CASE("the S3 failure object adds the records as payload, under AWS's key format") {
  std::vector<std::string> recs{kinesis_record_json(record(), src())};
  auto d = parse(s3_failure_object_json(failure(), recs, 0, 1));
  REQUIRE(d.HasMember("payload"));
  CHECK(d["payload"]["Records"].Size() == 1);
  CHECK(d.HasMember("KinesisBatchInfo"));
  const std::string key = s3_failure_key("0e9d8c7b-6a5f-4e3d-9c2b-1a0f9e8d7c6b", "shardId-000000000000",
                                         1732900809412, "11111111-2222-4333-8444-555555555555");
  CHECK(key ==
        "aws/lambda/0e9d8c7b-6a5f-4e3d-9c2b-1a0f9e8d7c6b/shardId-000000000000/2024/11/29/"
        "2024-11-29T17.20.09-11111111-2222-4333-8444-555555555555");
}

TEST_CASE("a partition key always maps to the same lane, and keys spread over all lanes") {
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string key = "key-" + std::to_string(i);
    const int lane = lane_of(key, 4);
    CHECK(lane == lane_of(key, 4));
    CHECK(lane >= 0);
    CHECK(lane < 4);
    seen.insert(lane);
  }
  CHECK(seen.size() == 4);
  CHECK(lane_of("anything", 1) == 0);
}

TEST_CASE("tumbling windows are aligned on the epoch") {
  // 07:04:30 with T = 120 s falls in 07:04:00 - 07:06:00.
  const std::int64_t t = 1732863870000;  // 2024-11-29T07:04:30Z
  CHECK(iso8601_s(window_start_of(t, 120)) == "2024-11-29T07:04:00Z");
  CHECK(window_start_of(t, 1) == t);
}

}  // namespace
}  // namespace esm::pollers
