// PutRecord, PutRecords and GetRecords: the hot paths, written without a JSON writer where the
// answer is one string.

#include <cstdio>

#include "api/kinesis/checker.h"
#include "api/kinesis/ops.h"
#include "core/codec.h"

namespace esm::api::kinesis_wire {
namespace {

using esm::kinesis::Stream;
using esm::kinesis::StreamEngine;

constexpr std::size_t kMaxGetRecordsBytes = 10 * 1024 * 1024;
constexpr std::size_t kMaxPutRecordsBytes = 5 * 1024 * 1024;

// JSON string content: quotes, backslashes and control characters escaped; other bytes as they
// came (the request's JSON carried them).
void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

std::optional<WireError> check_put_record(const Value& in, Puts& puts) {
  Checker c(in);
  c.stream_ref();
  auto data = c.blob(in, "Data", "data", StreamEngine::kMaxRecordBytes);
  auto key = c.string("PartitionKey", "partitionKey", true, 1, 256);
  auto hash = c.string("ExplicitHashKey", "explicitHashKey", false, 0, SIZE_MAX, kHashKeyPattern, is_hash_key);
  c.string("SequenceNumberForOrdering", "sequenceNumberForOrdering", false, 0, SIZE_MAX, kSequencePattern,
           is_sequence_number);
  if (auto e = c.error()) return e;
  StreamEngine::PutInput p{std::move(*key), std::move(*data), hash.value_or("")};
  if (auto v = StreamEngine::validate_put(p); !v) return describe(v.error());
  puts.push_back(std::move(p));
  return std::nullopt;
}

Outcome put_record(Call& call) {
  auto sr = call.stream();
  if (!sr) return describe(sr.error());
  const Stream& s = **sr;
  auto r = call.streams.put(call.c, **sr, std::move(call.puts[0]), call.now);
  if (!r) return describe(r.error());
  std::string body = "{\"ShardId\":\"";
  body += s.shards[static_cast<std::size_t>(r->shard)].id;
  body += "\",\"SequenceNumber\":\"";
  body += r->sequence_number;
  body += "\"}";
  return body;
}

// One entry of PutRecords' Records; a well-typed one goes into puts.
void check_put_entry(Checker& c, const Value& e, rapidjson::SizeType i, Puts& puts, std::size_t& total) {
  const std::string at = "records." + std::to_string(i) + ".member.";
  if (!e.IsObject()) {
    c.type_error("Records", "a list of structures");
    return;
  }
  auto data = c.blob(e, "Data", at + "data", StreamEngine::kMaxRecordBytes);
  auto key = str(e, "PartitionKey");
  if (!e.HasMember("PartitionKey") || e["PartitionKey"].IsNull())
    c.model().null(at + "partitionKey");
  else if (!key) c.type_error("PartitionKey", "a string");
  else c.check_string(*key, at + "partitionKey", 1, 256, nullptr, nullptr);
  auto hash = str(e, "ExplicitHashKey");
  if (e.HasMember("ExplicitHashKey") && !e["ExplicitHashKey"].IsNull() && !hash) c.type_error("ExplicitHashKey", "a string");
  if (hash) c.check_string(*hash, at + "explicitHashKey", 0, SIZE_MAX, kHashKeyPattern, is_hash_key);
  if (data && key) {
    total += data->size() + key->size();
    puts.push_back(StreamEngine::PutInput{std::move(*key), std::move(*data), hash.value_or("")});
  }
}

std::optional<WireError> check_put_records(const Value& in, Puts& puts) {
  Checker c(in);
  c.stream_ref();
  const Value* records = c.member("Records");
  if (!records) {
    c.model().null("records");
    return c.error();
  }
  if (!records->IsArray()) {
    c.type_error("Records", "a list");
    return c.error();
  }
  const auto n = records->Size();
  c.size("records", n, 500, "[]", "records");
  std::size_t total = 0;
  rapidjson::SizeType i = 0;
  for (const auto& e : records->GetArray()) check_put_entry(c, e, ++i, puts, total);
  if (auto e = c.error()) return e;
  if (total > kMaxPutRecordsBytes)
    return invalid_argument("Records size exceeds 5 MB limit: " + std::to_string(total) + " bytes.");
  for (const auto& p : puts)
    if (auto v = StreamEngine::validate_put(p); !v) return describe(v.error());
  return std::nullopt;
}

Outcome put_records(Call& call) {
  auto sr = call.stream();
  if (!sr) return describe(sr.error());
  Stream& s = **sr;
  int failed = 0;
  std::vector<esm::kinesis::Expected<StreamEngine::PutResult>> results;
  results.reserve(call.puts.size());
  for (auto& p : call.puts) {
    results.push_back(call.streams.put(call.c, s, std::move(p), call.now));
    if (!results.back()) ++failed;
  }
  return object_body([&](Writer& w) {
    w.Key("FailedRecordCount");
    w.Int(failed);
    w.Key("Records");
    w.StartArray();
    for (const auto& r : results) {
      w.StartObject();
      if (r) {
        put_string(w, "SequenceNumber", r->sequence_number);
        put_string(w, "ShardId", s.shards[static_cast<std::size_t>(r->shard)].id);
      } else {
        const WireError e = describe(r.error());
        put_string(w, "ErrorCode", type_name(e.type));
        put_string(w, "ErrorMessage", e.message);
      }
      w.EndObject();
    }
    w.EndArray();
  });
}

std::optional<WireError> check_get_records(const Value& in, Puts&) {
  Checker c(in);
  c.string("ShardIterator", "shardIterator", true, 1, 512);
  c.integer("Limit", "limit", false, 1, 10000);
  c.string("StreamARN", "streamARN", false, 1, 2048, kArnPattern, is_stream_arn);
  return c.error();
}

// GetRecords' answer, written straight from the shard: the hot path of every consumer, with up
// to 10,000 records (10 MiB) an answer.
Outcome get_records(Call& call) {
  auto pos = call.streams.open_iterator(*str(call.in, "ShardIterator"), call.now);
  if (!pos) return describe(pos.error());
  const int limit = static_cast<int>(integer(call.in, "Limit").value_or(10000));
  const Stream& s = *pos->stream;
  const StreamEngine::ShardSpan span =
      call.streams.peek(s, pos->shard, pos->index, limit, kMaxGetRecordsBytes, call.now);
  std::size_t size = 160;
  for (const auto* r : span.records) size += 140 + r->data.size() * 4 / 3 + r->partition_key.size();
  std::string out;
  out.reserve(size);
  out += "{\"Records\":[";
  bool first = true;
  for (const auto* r : span.records) {
    out += first ? "{\"SequenceNumber\":\"" : ",{\"SequenceNumber\":\"";
    first = false;
    out += r->sequence_number;
    out += "\",\"ApproximateArrivalTimestamp\":";
    append_epoch_seconds(out, r->arrival_ms);
    out += ",\"Data\":\"";
    base64_append(out, r->data);
    out += "\",\"PartitionKey\":";
    append_json_string(out, r->partition_key);
    out.push_back('}');
  }
  out += "],\"NextShardIterator\":\"";
  out += call.streams.make_iterator(s, pos->shard, span.next_index, call.now);
  out += "\",\"MillisBehindLatest\":";
  out += std::to_string(span.millis_behind_latest);
  out.push_back('}');
  return out;
}

}  // namespace

void add_record_ops(OperationTable& table) {
  table["PutRecord"] = {false, check_put_record, put_record};
  table["PutRecords"] = {false, check_put_records, put_records};
  table["GetRecords"] = {true, check_get_records, get_records};
}

}  // namespace esm::api::kinesis_wire
