#include "pollers/kafka_event.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "core/codec.h"

namespace esm::pollers {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(Writer& w, const std::string& s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

void write_headers(Writer& w, const std::vector<KafkaHeader>& headers) {
  w.StartArray();
  for (const auto& h : headers) {
    w.StartObject();
    write_string(w, h.name);
    w.StartArray();
    // Lambda delivers Java's signed bytes (kafka.md B.1).
    if (h.value)
      for (unsigned char c : *h.value) w.Int(static_cast<signed char>(c));
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
}

void head(std::string& out, const KafkaEventSource& src) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("eventSource");
  w.String(src.msk ? "aws:kafka" : "SelfManagedKafka");
  if (src.msk) {
    w.Key("eventSourceArn");
    write_string(w, src.cluster_arn);
  }
  w.Key("bootstrapServers");
  write_string(w, src.bootstrap);
  w.EndObject();
  out.assign(buf.GetString(), buf.GetSize() - 1);  // without the closing brace
  out += R"(,"records":{)";
}

void quoted(std::string& out, const std::string& key) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  write_string(w, key);
  out.append(buf.GetString(), buf.GetSize());
}

// The records of [begin, end) grouped by partition, in order.
std::vector<KafkaPartitionRecords> group(const std::vector<KafkaFailedRecord>& records, std::size_t begin,
                                         std::size_t end) {
  std::vector<KafkaPartitionRecords> parts;
  for (std::size_t i = begin; i < end; ++i) {
    if (parts.empty() || parts.back().key != records[i].partition_key)
      parts.push_back(KafkaPartitionRecords{records[i].partition_key, {}});
    parts.back().records.push_back(records[i].json);
  }
  return parts;
}

void write_failure_head(Writer& w, const KafkaFailure& f, bool topic_destination) {
  w.Key("requestContext");
  w.StartObject();
  w.Key("requestId");
  write_string(w, f.request_id);
  w.Key("functionArn");
  write_string(w, f.function_arn);
  w.Key("condition");
  if (f.condition == Condition::kRecordAgeExceeded)
    w.String("RecordAgeExceeded");
  else
    w.String(topic_destination ? "RetriesExhausted" : "RetryAttemptsExhausted");
  w.Key("approximateInvokeCount");
  w.Int(f.approximate_invoke_count);
  w.EndObject();
  if (f.response) {
    w.Key("responseContext");
    w.StartObject();
    w.Key("statusCode");
    w.Int(f.response->status_code);
    w.Key("executedVersion");
    write_string(w, f.response->executed_version);
    w.Key("functionError");
    if (f.response->function_error)
      write_string(w, *f.response->function_error);
    else
      w.Null();
    w.EndObject();
  }
  w.Key("version");
  w.String("1.0");
  w.Key("timestamp");
  write_string(w, iso8601_ms(f.timestamp_ms));
}

void write_batch_source(Writer& w, const KafkaEventSource& src, std::size_t batch_size, std::size_t payload_size) {
  w.Key("batchSize");
  w.Uint64(batch_size);
  if (src.msk) {
    w.Key("eventSourceArn");
    write_string(w, src.cluster_arn);
  }
  w.Key("bootstrapServers");
  write_string(w, src.bootstrap);
  w.Key("payloadSize");
  w.Uint64(payload_size);
}

}  // namespace

std::string kafka_failure_record_json(const KafkaEventSource& src, const KafkaFailure& f, bool with_payload) {
  const std::string event = kafka_event_json(src, group(f.records, 0, f.records.size()));
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  write_failure_head(w, f, false);
  w.Key("KafkaBatchInfo");
  w.StartObject();
  write_batch_source(w, src, f.records.size(), event.size());
  w.Key("recordsInfo");
  w.StartObject();
  for (std::size_t i = 0; i < f.records.size();) {
    std::size_t j = i;
    while (j + 1 < f.records.size() && f.records[j + 1].partition_key == f.records[i].partition_key) ++j;
    write_string(w, f.records[i].partition_key);
    w.StartObject();
    w.Key("firstRecordOffset");
    write_string(w, std::to_string(f.records[i].offset));
    w.Key("lastRecordOffset");
    write_string(w, std::to_string(f.records[j].offset));
    w.Key("firstRecordTimestamp");
    write_string(w, iso8601_ms(f.records[i].timestamp_ms));
    w.Key("lastRecordTimestamp");
    write_string(w, iso8601_ms(f.records[j].timestamp_ms));
    w.EndObject();
    i = j + 1;
  }
  w.EndObject();
  w.EndObject();
  if (with_payload) {
    w.Key("payload");
    write_string(w, event);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string kafka_topic_failure_json(const KafkaEventSource& src, const KafkaFailure& f, std::size_t i) {
  const std::string event = kafka_event_json(src, group(f.records, i, i + 1));
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  write_failure_head(w, f, true);
  w.Key("KafkaBatchInfo");
  w.StartObject();
  write_batch_source(w, src, 1, event.size());
  w.Key("recordInfo");
  w.StartObject();
  w.Key("offset");
  write_string(w, std::to_string(f.records[i].offset));
  w.Key("timestamp");
  write_string(w, iso8601_ms(f.records[i].timestamp_ms));
  w.EndObject();
  w.EndObject();
  w.Key("payload");
  w.RawValue(event.c_str(), event.size(), rapidjson::kObjectType);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string kafka_partition_key(const std::string& topic, int partition) {
  return topic + "-" + std::to_string(partition);
}

std::string kafka_record_json(const KafkaMessage& m) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("topic");
  write_string(w, m.topic);
  w.Key("partition");
  w.Int(m.partition);
  w.Key("offset");
  w.Int64(m.offset);
  w.Key("timestamp");
  w.Int64(m.timestamp_ms);
  w.Key("timestampType");
  w.String(m.log_append_time ? "LOG_APPEND_TIME" : "CREATE_TIME");
  if (m.key) {
    w.Key("key");
    write_string(w, base64_encode(*m.key));
  }
  if (m.value) {
    w.Key("value");
    write_string(w, base64_encode(*m.value));
  }
  w.Key("headers");
  write_headers(w, m.headers);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string kafka_event_json(const KafkaEventSource& src, const std::vector<KafkaPartitionRecords>& partitions) {
  std::string out;
  head(out, src);
  std::size_t size = out.size() + 2;
  for (const auto& p : partitions) {
    size += p.key.size() + 6 + p.records.size();
    for (const auto& r : p.records) size += r.size();
  }
  out.reserve(size);
  bool first_partition = true;
  for (const auto& p : partitions) {
    if (!first_partition) out += ',';
    first_partition = false;
    quoted(out, p.key);
    out += ":[";
    for (std::size_t i = 0; i < p.records.size(); ++i) {
      if (i) out += ',';
      out += p.records[i];
    }
    out += ']';
  }
  out += "}}";
  return out;
}

std::size_t kafka_event_base_size(const KafkaEventSource& src) {
  std::string out;
  head(out, src);
  return out.size() + 2;
}

std::size_t kafka_partition_overhead(const std::string& key) {
  std::string out;
  quoted(out, key);
  return out.size() + 3 + 1;  // :[ ] and the comma before it (one too many for the first: an upper bound)
}

bool kafka_record_passes(const EventFilter& filter, const KafkaMessage& m) {
  if (filter.empty()) return true;
  rapidjson::Document view(rapidjson::kObjectType);
  auto& a = view.GetAllocator();
  auto add = [&](const char* key, const std::string& value) {
    view.AddMember(rapidjson::StringRef(key),
                   rapidjson::Value(value.c_str(), static_cast<rapidjson::SizeType>(value.size()), a), a);
  };
  add("topic", m.topic);
  view.AddMember("partition", m.partition, a);
  view.AddMember("offset", static_cast<std::int64_t>(m.offset), a);
  view.AddMember("timestamp", static_cast<std::int64_t>(m.timestamp_ms), a);
  add("timestampType", m.log_append_time ? "LOG_APPEND_TIME" : "CREATE_TIME");
  if (m.key) add("key", base64_encode(*m.key));
  if (m.value) set_payload_view(view, "value", *m.value, a);
  rapidjson::Value headers(rapidjson::kArrayType);
  for (const auto& h : m.headers) {
    rapidjson::Value bytes(rapidjson::kArrayType);
    if (h.value)
      for (unsigned char c : *h.value) bytes.PushBack(static_cast<int>(static_cast<signed char>(c)), a);
    rapidjson::Value one(rapidjson::kObjectType);
    one.AddMember(rapidjson::Value(h.name.c_str(), static_cast<rapidjson::SizeType>(h.name.size()), a), bytes, a);
    headers.PushBack(one, a);
  }
  view.AddMember("headers", headers, a);
  return filter.matches(view);
}

Judgement judge_kafka_batch(const InvokeOutcome& outcome, bool report_item_failures,
                            const std::vector<KafkaItemId>& ids, std::size_t begin, std::size_t end) {
  return judge_item_failures(outcome, report_item_failures, end,
                             [&](const rapidjson::Value& id) -> std::optional<std::size_t> {
    if (!id.IsObject()) return std::nullopt;
    auto partition = id.FindMember("partition");
    auto offset = id.FindMember("offset");
    if (partition == id.MemberEnd() || !partition->value.IsString() || offset == id.MemberEnd() ||
        !offset->value.IsInt64())
      return std::nullopt;
    const std::string_view key(partition->value.GetString(), partition->value.GetStringLength());
    const std::int64_t at = offset->value.GetInt64();
    for (std::size_t i = begin; i < end; ++i)
      if (ids[i].offset == at && ids[i].partition == key) return i;
    return std::nullopt;
  });
}

}  // namespace esm::pollers
