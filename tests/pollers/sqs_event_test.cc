#include "pollers/sqs_event.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <catch2/catch.hpp>

#include "core/codec.h"

namespace esm::pollers {
namespace {

const std::string kArn = "arn:aws:sqs:us-east-1:123456789012:orders";

sqs::Message message(std::string body = R"({"orderId":"o-1001","total":42.5})") {
  sqs::Message m;
  m.message_id = "2e1424d4-f796-459a-8184-9c92662be6da";
  m.body = std::move(body);
  m.md5_body = md5_hex(m.body);
  m.sent_ms = 1732900800123;
  m.first_receive_ms = 1732900800131;
  m.receive_count = 1;
  m.sender_id = "AIDAEXAMPLESENDER01";
  return m;
}

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str(), json.size());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

std::string str(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

InvokeOutcome success(std::string payload) {
  InvokeOutcome o;
  o.status = InvokeStatus::kSuccess;
  o.http_status = 200;
  o.payload = std::move(payload);
  return o;
}

const std::set<std::string> kBatch = {"id-1", "id-2", "id-3"};

// --- sqs_record_json ----------------------------------------------------------------------

TEST_CASE("a standard-queue record has the keys and string-typed attributes of data-plane.md 1.1") {
  auto d = parse(sqs_record_json(message(), "rh-1", kArn, "us-east-1", false));
  REQUIRE(d.IsObject());
  CHECK(str(d["messageId"]) == "2e1424d4-f796-459a-8184-9c92662be6da");
  CHECK(str(d["receiptHandle"]) == "rh-1");
  CHECK(str(d["body"]) == R"({"orderId":"o-1001","total":42.5})");
  CHECK(str(d["md5OfBody"]) == md5_hex(R"({"orderId":"o-1001","total":42.5})"));
  CHECK(str(d["eventSource"]) == "aws:sqs");
  CHECK(str(d["eventSourceARN"]) == kArn);
  CHECK(str(d["awsRegion"]) == "us-east-1");
  CHECK(d["messageAttributes"].IsObject());
  CHECK(d["messageAttributes"].MemberCount() == 0);
  const auto& a = d["attributes"];
  REQUIRE(a.IsObject());
  CHECK(a.MemberCount() == 4);
  CHECK(str(a["ApproximateReceiveCount"]) == "1");
  CHECK(str(a["SentTimestamp"]) == "1732900800123");
  CHECK(str(a["SenderId"]) == "AIDAEXAMPLESENDER01");
  CHECK(str(a["ApproximateFirstReceiveTimestamp"]) == "1732900800131");
  CHECK(d.MemberCount() == 9);  // md5OfMessageAttributes omitted: no attributes, no window
}

TEST_CASE("a FIFO record adds SequenceNumber, MessageGroupId and MessageDeduplicationId") {
  auto m = message("order o-2002 paid");
  m.sequence_number = "18890395201442893056";
  m.group_id = "customer-17";
  m.dedup_id = "o-2002-paid";
  auto d = parse(sqs_record_json(m, "rh", kArn + ".fifo", "us-east-1", false));
  const auto& a = d["attributes"];
  CHECK(a.MemberCount() == 7);
  CHECK(str(a["SequenceNumber"]) == "18890395201442893056");
  CHECK(str(a["MessageGroupId"]) == "customer-17");
  CHECK(str(a["MessageDeduplicationId"]) == "o-2002-paid");
}

TEST_CASE("message attributes carry empty string and binary lists and a base64 binary value") {
  auto m = message();
  m.attributes = {{"blob", "Binary", std::string("\x00\x01\xff", 3), true}, {"priority", "Number", "3", false}};
  m.md5_attributes = "b2a8b748da069d4122d03a0ee1add5fb";
  auto d = parse(sqs_record_json(m, "rh", kArn, "us-east-1", false));
  const auto& attrs = d["messageAttributes"];
  REQUIRE(attrs.MemberCount() == 2);
  const auto& p = attrs["priority"];
  CHECK(str(p["stringValue"]) == "3");
  CHECK(str(p["dataType"]) == "Number");
  CHECK(p["stringListValues"].IsArray());
  CHECK(p["stringListValues"].Empty());
  CHECK(p["binaryListValues"].IsArray());
  CHECK(p["binaryListValues"].Empty());
  CHECK_FALSE(p.HasMember("binaryValue"));
  const auto& b = attrs["blob"];
  CHECK(str(b["binaryValue"]) == "AAH/");
  CHECK_FALSE(b.HasMember("stringValue"));
  CHECK(str(d["md5OfMessageAttributes"]) == "b2a8b748da069d4122d03a0ee1add5fb");
}

TEST_CASE("without attributes md5OfMessageAttributes is null with a window and omitted without one") {
  CHECK(parse(sqs_record_json(message(), "rh", kArn, "us-east-1", true))["md5OfMessageAttributes"].IsNull());
  CHECK_FALSE(parse(sqs_record_json(message(), "rh", kArn, "us-east-1", false)).HasMember("md5OfMessageAttributes"));
}

TEST_CASE("the body passes byte for byte, JSON or not") {
  for (std::string body : {std::string(R"({"a": 1})"), std::string("  {\"b\":[1, 2 ,3]}\n"), std::string("plain \t text\r\n"),
                           std::string("unicode \xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80"), std::string("\"quoted\" \\ /"),
                           std::string("\xe2\x80\xa8")}) {
    const std::string json = sqs_record_json(message(body), "rh", kArn, "us-east-1", false);
    CHECK(str(parse(json)["body"]) == body);
  }
  // A JSON body stays a string: it is never embedded as an object.
  CHECK(sqs_record_json(message(R"({"a": 1})"), "rh", kArn, "us-east-1", false).find(R"("body":"{\"a\": 1}")") !=
        std::string::npos);
}

TEST_CASE("AWSTraceHeader passes through in attributes when the message has one") {
  auto m = message();
  m.trace_header = "Root=1-5759e988-bd862e3fe1be46a994272793";
  auto d = parse(sqs_record_json(m, "rh", kArn, "us-east-1", false));
  CHECK(str(d["attributes"]["AWSTraceHeader"]) == "Root=1-5759e988-bd862e3fe1be46a994272793");
}

// The record as RapidJSON's Writer wrote it before sqs_record_json was written by hand: the
// hand-written one must give the same bytes.
std::string writer_record_json(const sqs::Message& m, const std::string& receipt_handle, const std::string& queue_arn,
                               const std::string& region, bool with_window) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("messageId");
  w.String(m.message_id);
  w.Key("receiptHandle");
  w.String(receipt_handle);
  w.Key("body");
  w.String(m.body);
  w.Key("attributes");
  w.StartObject();
  auto attr = [&](const char* k, const std::string& v) {
    w.Key(k);
    w.String(v);
  };
  attr("ApproximateReceiveCount", std::to_string(m.receive_count));
  attr("SentTimestamp", std::to_string(m.sent_ms));
  if (!m.sequence_number.empty()) attr("SequenceNumber", m.sequence_number);
  if (!m.group_id.empty()) attr("MessageGroupId", m.group_id);
  attr("SenderId", m.sender_id);
  if (!m.dedup_id.empty()) attr("MessageDeduplicationId", m.dedup_id);
  attr("ApproximateFirstReceiveTimestamp", std::to_string(m.first_receive_ms));
  if (!m.trace_header.empty()) attr("AWSTraceHeader", m.trace_header);
  if (!m.dlq_source_arn.empty()) attr("DeadLetterQueueSourceArn", m.dlq_source_arn);
  w.EndObject();
  w.Key("messageAttributes");
  w.StartObject();
  for (const auto& a : m.attributes) {
    w.Key(a.name.c_str(), static_cast<rapidjson::SizeType>(a.name.size()));
    w.StartObject();
    if (a.binary) {
      w.Key("binaryValue");
      w.String(base64_encode(a.value));
    } else {
      w.Key("stringValue");
      w.String(a.value);
    }
    w.Key("stringListValues");
    w.StartArray();
    w.EndArray();
    w.Key("binaryListValues");
    w.StartArray();
    w.EndArray();
    w.Key("dataType");
    w.String(a.data_type);
    w.EndObject();
  }
  w.EndObject();
  if (!m.md5_attributes.empty()) {
    w.Key("md5OfMessageAttributes");
    w.String(m.md5_attributes);
  } else if (with_window) {
    w.Key("md5OfMessageAttributes");
    w.Null();
  }
  w.Key("md5OfBody");
  w.String(m.md5_body);
  w.Key("eventSource");
  w.String("aws:sqs");
  w.Key("eventSourceARN");
  w.String(queue_arn);
  w.Key("awsRegion");
  w.String(region);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

TEST_CASE("the hand-written record is byte for byte what RapidJSON's Writer wrote") {
  std::string every_byte;
  for (int c = 0; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
  std::vector<sqs::Message> cases;
  cases.push_back(message());
  cases.push_back(message("\"quoted\" \\ back\\slash / \b\f\n\r\t \x01\x1f\x7f end"));
  cases.push_back(message("unicode \xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 \xe2\x80\xa8 and a lone \xff byte"));
  cases.push_back(message(every_byte));
  cases.push_back(message(""));
  auto fifo = message("order o-2002 paid");
  fifo.sequence_number = "18890395201442893056";
  fifo.group_id = "customer \"17\"";
  fifo.dedup_id = "o-2002\tpaid";
  fifo.trace_header = "Root=1-5759e988-bd862e3fe1be46a994272793";
  fifo.dlq_source_arn = kArn + "-source";
  fifo.receive_count = 12;
  fifo.first_receive_ms = 0;
  cases.push_back(fifo);
  auto attrs = message("with attributes");
  attrs.attributes = {{"blob", "Binary", every_byte, true},
                      {"empty", "String", "", false},
                      {"na\"me\x01", "String.custom \xc3\xa9", "va\\lue \n \xe4\xb8\xad", false},
                      {"priority", "Number", "3", false}};
  attrs.md5_attributes = "b2a8b748da069d4122d03a0ee1add5fb";
  cases.push_back(attrs);
  for (const auto& m : cases) {
    for (bool window : {false, true}) {
      for (const std::string& arn : {kArn, std::string("arn:aws:sqs:eu-west-1:123456789012:q\"\\.fifo")}) {
        const std::string handle = base64_encode("esmd:1:42:0123456789abcdef:" + m.message_id);
        CHECK(sqs_record_json(m, handle, sqs_record_frame(arn, "eu-west-1", window)) ==
              writer_record_json(m, handle, arn, "eu-west-1", window));
        CHECK(sqs_record_json(m, handle, arn, "eu-west-1", window) ==
              writer_record_json(m, handle, arn, "eu-west-1", window));
      }
    }
  }
}

// --- sqs_event_json / sqs_event_size ----------------------------------------------------------

TEST_CASE("sqs_event_size is the exact size of sqs_event_json") {
  const std::vector<std::vector<std::string>> cases = {
      {}, {R"({"x":1})"}, {R"({"x":1})", R"({"y":22})"}, {"{}", "{}", "{}", "{}"}};
  for (const auto& records : cases) {
    std::size_t bytes = 0;
    for (const auto& r : records) bytes += r.size();
    const std::string event = sqs_event_json(records);
    CHECK(event.size() == sqs_event_size(records.size(), bytes));
  }
  CHECK(sqs_event_json({}) == R"({"Records":[]})");
  CHECK(sqs_event_json({"{}", "{}"}) == R"({"Records":[{},{}]})");
}

TEST_CASE("an event of serialized records parses as {Records:[...]} in order") {
  const auto a = sqs_record_json(message("first"), "rh-a", kArn, "us-east-1", false);
  const auto b = sqs_record_json(message("second"), "rh-b", kArn, "us-east-1", false);
  auto d = parse(sqs_event_json({a, b}));
  REQUIRE(d["Records"].Size() == 2);
  CHECK(str(d["Records"][0]["body"]) == "first");
  CHECK(str(d["Records"][1]["body"]) == "second");
}

// --- judge_batch: the table of data-plane.md 2.3 ---------------------------------------------

TEST_CASE("a function error is a complete failure with or without ReportBatchItemFailures") {
  InvokeOutcome o;
  o.status = InvokeStatus::kFunctionError;
  o.function_error = "Unhandled";
  o.payload = R"({"batchItemFailures":[]})";
  CHECK(judge_batch(o, true, kBatch).complete_failure);
  CHECK(judge_batch(o, false, kBatch).complete_failure);
}

TEST_CASE("an invoke error is a complete failure: nothing is deleted") {
  InvokeOutcome o;
  o.status = InvokeStatus::kInvokeError;
  o.http_status = 429;
  CHECK(judge_batch(o, true, kBatch).complete_failure);
  CHECK(judge_batch(o, false, kBatch).complete_failure);
}

TEST_CASE("listed ids of the batch are kept and the rest deleted") {
  auto v = judge_batch(success(R"({"batchItemFailures":[{"itemIdentifier":"id-2"},{"itemIdentifier":"id-3"}]})"),
                       true, kBatch);
  CHECK_FALSE(v.complete_failure);
  CHECK(v.failed == std::set<std::string>{"id-2", "id-3"});
}

TEST_CASE("the same id listed twice counts once") {
  auto v = judge_batch(success(R"({"batchItemFailures":[{"itemIdentifier":"id-1"},{"itemIdentifier":"id-1"}]})"),
                       true, kBatch);
  CHECK_FALSE(v.complete_failure);
  CHECK(v.failed == std::set<std::string>{"id-1"});
}

TEST_CASE("answers that report no failure are a complete success") {
  for (const char* body : {R"({"batchItemFailures":[]})", R"({"batchItemFailures":null})", "{}", "null", "", "  \n",
                           R"("ok")", "[]", R"({"status":1})", "42", "true"}) {
    INFO(body);
    auto v = judge_batch(success(body), true, kBatch);
    CHECK_FALSE(v.complete_failure);
    CHECK(v.failed.empty());
  }
}

TEST_CASE("malformed failure reports are a complete failure") {
  for (const char* body : {
           "{not json",
           R"({"batchItemFailures":[)",
           R"({"batchItemFailures":[]} trailing)",
           R"({"batchItemFailures":[{"itemIdentifier":""}]})",
           R"({"batchItemFailures":[{"itemIdentifier":null}]})",
           R"({"batchItemFailures":[{"itemIdentifier":7}]})",
           R"({"batchItemFailures":[{"foo":"notvalid"}]})",
           R"({"batchItemFailures":[{"itemIdentifier":"id-1"},{"itemIdentifier":"not-in-batch"}]})",
           R"({"batchItemFailures":{"itemIdentifier":"id-1"}})",
           R"({"batchItemFailures":"id-1"})",
           R"({"batchItemFailures":["id-1"]})",
       }) {
    INFO(body);
    CHECK(judge_batch(success(body), true, kBatch).complete_failure);
  }
}

TEST_CASE("without ReportBatchItemFailures the response body is ignored") {
  for (const char* body : {R"({"batchItemFailures":[{"itemIdentifier":"id-1"}]})", "{not json",
                           R"({"batchItemFailures":[{"itemIdentifier":""}]})", R"({"batchItemFailures":"x"})"}) {
    INFO(body);
    auto v = judge_batch(success(body), false, kBatch);
    CHECK_FALSE(v.complete_failure);
    CHECK(v.failed.empty());
  }
}

// ---- filtering (filtering.md §6) --------------------------------------------------------------

bool passes(const char* pattern, const sqs::Message& m) {
  auto f = EventFilter::compile({pattern});
  REQUIRE(f);
  return sqs_record_passes(*f, sqs_record_json(m, "rh-1", kArn, "us-east-1", false), m.body);
}

TEST_CASE("an SQS filter sees a JSON body parsed and a plain body as a string") {
  CHECK(passes(R"({"body": {"orderId": ["o-1001"]}})", message()));
  CHECK(passes(R"({"body": {"total": [{"numeric": [">", 40]}]}})", message()));
  CHECK_FALSE(passes(R"({"body": {"total": [{"numeric": [">", 50]}]}})", message()));
  CHECK_FALSE(passes(R"({"body": [{"prefix": "{"}]})", message()));
  CHECK(passes(R"({"body": [{"prefix": "status="}]})", message("status=shipped")));
  CHECK_FALSE(passes(R"({"body": {"status": ["shipped"]}})", message("status=shipped")));
}

TEST_CASE("an SQS filter sees the record's other fields") {
  CHECK(passes(R"({"eventSource": ["aws:sqs"], "awsRegion": ["us-east-1"]})", message()));
  CHECK(passes(R"({"eventSourceARN": [{"suffix": ":orders"}]})", message()));
  CHECK(passes(R"({"attributes": {"ApproximateReceiveCount": ["1"]}})", message()));
  CHECK(passes(R"({"messageId": [{"exists": true}], "receiptHandle": ["rh-1"]})", message()));
  CHECK_FALSE(passes(R"({"eventSource": ["aws:kinesis"]})", message()));
}

TEST_CASE("without filters every record passes") {
  CHECK(sqs_record_passes(EventFilter(), sqs_record_json(message(), "rh", kArn, "us-east-1", false), message().body));
}

TEST_CASE("a response nested a million levels deep is a complete failure, not a crash") {
  CHECK(judge_batch(success(std::string(1000000, '[')), true, kBatch).complete_failure);
  CHECK(judge_batch(success("{\"batchItemFailures\":" + std::string(1000000, '[')), true, kBatch).complete_failure);
}

}  // namespace
}  // namespace esm::pollers
