#include "pollers/sqs_event.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/codec.h"

namespace esm::pollers {

std::string sqs_record_json(const sqs::Message& m, const std::string& receipt_handle,
                            const std::string& queue_arn, const std::string& region, bool with_window) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("messageId");
  w.String(m.message_id);
  w.Key("receiptHandle");
  w.String(receipt_handle);
  // The body goes through byte for byte: a JSON body stays a string, never re-serialised.
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
