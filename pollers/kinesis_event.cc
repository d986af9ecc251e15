#include "pollers/kinesis_event.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <utility>
#include <vector>

#include "core/codec.h"

namespace esm::pollers {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::tm utc(std::int64_t epoch_ms) {
  std::time_t t = static_cast<std::time_t>(epoch_ms >= 0 ? epoch_ms / 1000 : (epoch_ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

int millis(std::int64_t epoch_ms) { return static_cast<int>(((epoch_ms % 1000) + 1000) % 1000); }

void raw_records(std::string& out, const std::vector<std::string>& records, std::size_t begin, std::size_t end) {
  out += "[";
  for (std::size_t i = begin; i < end; ++i) {
    if (i > begin) out += ",";
    out += records[i];
  }
  out += "]";
}

void write_failure_fields(Writer& w, const FailureRecord& f) {
  w.Key("requestContext");
  w.StartObject();
  w.Key("requestId");
  w.String(f.request_id);
  w.Key("functionArn");
  w.String(f.function_arn);
  w.Key("condition");
  w.String(f.condition == Condition::kRecordAgeExceeded ? "RecordAgeExceeded" : "RetryAttemptsExhausted");
  w.Key("approximateInvokeCount");
  w.Int(f.approximate_invoke_count);
  w.EndObject();
  if (f.response) {
    w.Key("responseContext");
    w.StartObject();
    w.Key("statusCode");
    w.Int(f.response->status_code);
    w.Key("executedVersion");
    w.String(f.response->executed_version);
    w.Key("functionError");
    if (f.response->function_error) {
      w.String(*f.response->function_error);
    } else {
      w.Null();
    }
    w.EndObject();
  }
  w.Key("version");
  w.String("1.0");
  w.Key("timestamp");
  w.String(iso8601_ms(f.timestamp_ms));
  w.Key("KinesisBatchInfo");
  w.StartObject();
  w.Key("shardId");
  w.String(f.shard_id);
  w.Key("startSequenceNumber");
  w.String(f.start_sequence_number);
  w.Key("endSequenceNumber");
  w.String(f.end_sequence_number);
  w.Key("approximateArrivalOfFirstRecord");
  w.String(iso8601_ms(f.first_arrival_ms));
  w.Key("approximateArrivalOfLastRecord");
  w.String(iso8601_ms(f.last_arrival_ms));
  w.Key("batchSize");
  w.Uint64(f.batch_size);
  w.Key("streamArn");
  w.String(f.stream_arn);
  w.EndObject();
}

}  // namespace

std::string iso8601_ms(std::int64_t epoch_ms) {
  std::tm tm = utc(epoch_ms);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, millis(epoch_ms));
  return buf;
}

std::string iso8601_s(std::int64_t epoch_ms) {
  std::tm tm = utc(epoch_ms);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

KinesisRecordFrame kinesis_record_frame(const KinesisSource& src) {
  KinesisRecordFrame f;
  json_append_escaped(f.event_id_prefix, src.shard_id);
  f.event_id_prefix += ':';
  f.tail = R"(","eventName":"aws:kinesis:record","invokeIdentityArn":)";
  json_append_string(f.tail, src.role_arn);
  f.tail += R"(,"awsRegion":)";
  json_append_string(f.tail, src.region);
  f.tail += R"(,"eventSourceARN":)";
  json_append_string(f.tail, src.stream_arn);
  f.tail += '}';
  return f;
}

std::string kinesis_record_json(const kinesis::StreamRecord& r, const KinesisRecordFrame& frame) {
  // Written by hand: this runs once per record delivered, and a general JSON writer cost three
  // times the rest of the record's way through the poller (callgrind).
  std::string out;
  out.reserve(300 + r.partition_key.size() + 2 * r.sequence_number.size() + r.data.size() * 4 / 3 +
              frame.event_id_prefix.size() + frame.tail.size());
  out += R"({"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":)";
  json_append_string(out, r.partition_key);
  // Sequence numbers are esmd's own decimal digits: nothing to escape.
  out += R"(,"sequenceNumber":")";
  out += r.sequence_number;
  out += '"';
  out += R"(,"data":")";
  base64_append(out, r.data);
  out += R"(","approximateArrivalTimestamp":)";
  append_epoch_seconds(out, r.arrival_ms);
  out += R"(},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":")";
  out += frame.event_id_prefix;
  out += r.sequence_number;
  out += frame.tail;
  return out;
}

std::string kinesis_record_json(const kinesis::StreamRecord& r, const KinesisSource& src) {
  return kinesis_record_json(r, kinesis_record_frame(src));
}

std::string kinesis_event_json(const std::vector<std::string>& records, std::size_t begin, std::size_t end) {
  std::string out;
  std::size_t bytes = 0;
  for (std::size_t i = begin; i < end; ++i) bytes += records[i].size();
  out.reserve(kinesis_event_size(end - begin, bytes));
  out += "{\"Records\":";
  raw_records(out, records, begin, end);
  out += "}";
  return out;
}

std::string kinesis_window_event_json(const std::vector<std::string>& records, std::size_t begin, std::size_t end,
                                      const WindowFields& window, const KinesisSource& src) {
  std::string out = "{\"Records\":";
  raw_records(out, records, begin, end);
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("window");
  w.StartObject();
  w.Key("start");
  w.String(iso8601_s(window.start_ms));
  w.Key("end");
  w.String(iso8601_s(window.end_ms));
  w.EndObject();
  w.Key("state");
  w.RawValue(window.state_json.c_str(), window.state_json.size(), rapidjson::kObjectType);
  w.Key("shardId");
  w.String(src.shard_id);
  w.Key("eventSourceARN");
  w.String(src.stream_arn);
  w.Key("isFinalInvokeForWindow");
  w.Bool(window.final_invoke);
  w.Key("isWindowTerminatedEarly");
  w.Bool(window.terminated_early);
  w.EndObject();
  // The rest of the members, after "Records": the writer's object without its opening brace.
  out += ",";
  out.append(buf.GetString() + 1, buf.GetSize() - 1);
  return out;
}

std::size_t window_fields_size(const WindowFields& window, const KinesisSource& src) {
  return kinesis_window_event_json({}, 0, 0, window, src).size() - kinesis_event_size(0, 0);
}

std::string failure_record_json(const FailureRecord& f) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  write_failure_fields(w, f);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string s3_failure_object_json(const FailureRecord& f, const std::vector<std::string>& records,
                                   std::size_t begin, std::size_t end) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  write_failure_fields(w, f);
  w.Key("payload");
  std::string payload = kinesis_event_json(records, begin, end);
  w.RawValue(payload.c_str(), payload.size(), rapidjson::kObjectType);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string s3_failure_key(const std::string& mapping_uuid, const std::string& shard_id, std::int64_t now_ms,
                           const std::string& random_uuid) {
  std::tm tm = utc(now_ms);
  char date[64];
  char stamp[96];
  std::snprintf(date, sizeof date, "%04d/%02d/%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d.%02d.%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return "aws/lambda/" + mapping_uuid + "/" + shard_id + "/" + date + "/" + stamp + "-" + random_uuid;
}

namespace {

bool json_depth_within(const rapidjson::Value& v, std::size_t max_depth) {
  // An explicit stack of (value, depth): the function's response is untrusted, and a
  // recursive walk would overflow the thread's stack on a deep enough nesting.
  std::vector<std::pair<const rapidjson::Value*, std::size_t>> todo{{&v, 1}};
  while (!todo.empty()) {
    auto [cur, depth] = todo.back();
    todo.pop_back();
    if (!cur->IsObject() && !cur->IsArray()) continue;
    if (depth > max_depth) return false;
    if (cur->IsObject()) {
      for (const auto& m : cur->GetObject()) todo.emplace_back(&m.value, depth + 1);
    } else {
      for (const auto& e : cur->GetArray()) todo.emplace_back(&e, depth + 1);
    }
  }
  return true;
}

// The state's JSON text, if `state` is an object no deeper than kMaxWindowStateDepth.
// Writer::Accept recurses per level, so the depth is checked before it runs.
std::optional<std::string> state_text(const rapidjson::Value& state) {
  if (!state.IsObject() || !json_depth_within(state, kMaxWindowStateDepth)) return std::nullopt;
  rapidjson::StringBuffer buf;
  Writer w(buf);
  state.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

std::optional<std::string> window_state_of(const std::string& payload) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(payload.c_str(), payload.size());
  if (d.HasParseError() || !d.IsObject()) return std::nullopt;
  auto it = d.FindMember("state");
  if (it == d.MemberEnd()) return std::nullopt;
  return state_text(it->value);
}

std::optional<SavedWindow> saved_window_of(const std::string& doc) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(doc.c_str(), doc.size());
  if (d.HasParseError() || !d.IsObject()) return std::nullopt;
  auto start = d.FindMember("start");
  auto state = d.FindMember("state");
  if (start == d.MemberEnd() || !start->value.IsInt64() || state == d.MemberEnd()) return std::nullopt;
  auto text = state_text(state->value);
  if (!text) return std::nullopt;
  return SavedWindow{start->value.GetInt64(), std::move(*text)};
}

}  // namespace esm::pollers
