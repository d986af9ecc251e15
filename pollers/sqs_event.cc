#include "pollers/sqs_event.h"

#include <rapidjson/document.h>

#include <charconv>
#include <string_view>

#include "core/codec.h"

namespace esm::pollers {

namespace {

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// "<key>":"<value escaped>"
void append_attribute(std::string& out, std::string_view key, std::string_view value) {
  out += key;
  json_append_string(out, value);
}

}  // namespace

SqsRecordFrame sqs_record_frame(const std::string& queue_arn, const std::string& region, bool with_window) {
  SqsRecordFrame f;
  f.with_window = with_window;
  f.tail = R"(,"eventSource":"aws:sqs","eventSourceARN":)";
  json_append_string(f.tail, queue_arn);
  f.tail += R"(,"awsRegion":)";
  json_append_string(f.tail, region);
  f.tail += '}';
  return f;
}

std::string sqs_record_json(const sqs::Message& m, const std::string& receipt_handle,
                            const std::string& queue_arn, const std::string& region, bool with_window) {
  return sqs_record_json(m, receipt_handle, sqs_record_frame(queue_arn, region, with_window));
}

std::string sqs_record_json(const sqs::Message& m, const std::string& receipt_handle, const SqsRecordFrame& frame) {
  // Written by hand: this runs once per record delivered, and a general JSON writer, escaping
  // character by character, cost more than the rest of the record's way through the poller.
  std::size_t attribute_bytes = 0;
  for (const auto& a : m.attributes) attribute_bytes += 80 + a.name.size() + a.data_type.size() + a.value.size() * 2;
  std::string out;
  out.reserve(420 + m.message_id.size() + receipt_handle.size() + m.body.size() + m.body.size() / 8 +
              m.sequence_number.size() + m.group_id.size() + m.sender_id.size() + m.dedup_id.size() +
              m.trace_header.size() + m.dlq_source_arn.size() + attribute_bytes + frame.tail.size());
  out += R"({"messageId":)";
  json_append_string(out, m.message_id);
  out += R"(,"receiptHandle":)";
  json_append_string(out, receipt_handle);
  // The body goes through byte for byte: a JSON body stays a string, never re-serialised.
  out += R"(,"body":)";
  json_append_string(out, m.body);
  out += R"(,"attributes":{"ApproximateReceiveCount":")";
  append_int(out, m.receive_count);
  out += R"(","SentTimestamp":")";
  append_int(out, m.sent_ms);
  out += '"';
  if (!m.sequence_number.empty()) append_attribute(out, R"(,"SequenceNumber":)", m.sequence_number);
  if (!m.group_id.empty()) append_attribute(out, R"(,"MessageGroupId":)", m.group_id);
  append_attribute(out, R"(,"SenderId":)", m.sender_id);
  if (!m.dedup_id.empty()) append_attribute(out, R"(,"MessageDeduplicationId":)", m.dedup_id);
  out += R"(,"ApproximateFirstReceiveTimestamp":")";
  append_int(out, m.first_receive_ms);
  out += '"';
  if (!m.trace_header.empty()) append_attribute(out, R"(,"AWSTraceHeader":)", m.trace_header);
  if (!m.dlq_source_arn.empty()) append_attribute(out, R"(,"DeadLetterQueueSourceArn":)", m.dlq_source_arn);
  out += R"(},"messageAttributes":{)";
  bool first = true;
  for (const auto& a : m.attributes) {
    if (!first) out += ',';
    first = false;
    json_append_string(out, a.name);
    if (a.binary) {
      out += R"(:{"binaryValue":")";
      base64_append(out, a.value);
      out += '"';
    } else {
      out += R"(:{"stringValue":)";
      json_append_string(out, a.value);
    }
    out += R"(,"stringListValues":[],"binaryListValues":[],"dataType":)";
    json_append_string(out, a.data_type);
    out += '}';
  }
  out += '}';
  if (!m.md5_attributes.empty()) {
    append_attribute(out, R"(,"md5OfMessageAttributes":)", m.md5_attributes);
  } else if (frame.with_window) {
    out += R"(,"md5OfMessageAttributes":null)";
  }
  append_attribute(out, R"(,"md5OfBody":)", m.md5_body);
  out += frame.tail;
  return out;
}

bool sqs_record_passes(const EventFilter& filter, const std::string& record_json, const std::string& body) {
  if (filter.empty()) return true;
  rapidjson::Document view;
  if (!parse_for_filter(view, record_json) || !view.IsObject()) return true;  // our own JSON: cannot happen
  view.RemoveMember("body");
  set_payload_view(view, "body", body, view.GetAllocator());
  return filter.matches(view);
}

std::string sqs_event_json(const std::vector<std::string>& records) {
  std::size_t bytes = 0;
  for (const auto& r : records) bytes += r.size();
  std::string out;
  out.reserve(sqs_event_size(records.size(), bytes));
  out += "{\"Records\":[";
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i) out.push_back(',');
    out += records[i];
  }
  out += "]}";
  return out;
}

BatchVerdict judge_batch(const InvokeOutcome& outcome, bool report_item_failures,
                         const std::set<std::string>& batch_message_ids) {
  BatchVerdict v;
  if (outcome.status != InvokeStatus::kSuccess) {
    v.complete_failure = true;
    return v;
  }
  // Without ReportBatchItemFailures the response body is ignored.
  if (!report_item_failures) return v;
  const std::string& body = outcome.payload;
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return v;  // empty payload: success
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(body.c_str(), body.size());
  if (d.HasParseError()) {
    v.complete_failure = true;
    return v;
  }
  if (!d.IsObject()) return v;  // null, "ok", [] ...: success
  auto it = d.FindMember("batchItemFailures");
  if (it == d.MemberEnd() || it->value.IsNull()) return v;
  if (!it->value.IsArray()) {
    v.complete_failure = true;
    return v;
  }
  for (const auto& item : it->value.GetArray()) {
    if (!item.IsObject()) {
      v.complete_failure = true;
      return v;
    }
    auto id = item.FindMember("itemIdentifier");
    if (id == item.MemberEnd() || !id->value.IsString() || id->value.GetStringLength() == 0) {
      v.complete_failure = true;
      return v;
    }
    std::string sid(id->value.GetString(), id->value.GetStringLength());
    if (!batch_message_ids.count(sid)) {
      v.complete_failure = true;
      v.failed.clear();
      return v;
    }
    v.failed.insert(std::move(sid));
  }
  return v;
}

}  // namespace esm::pollers
