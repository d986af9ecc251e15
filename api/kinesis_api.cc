#include "api/kinesis_api.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "core/codec.h"

namespace esm::api {
namespace {

using rapidjson::Document;
using rapidjson::Value;
using storage::KinesisError;
using storage::Stream;
using storage::StreamEngine;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view kTargetPrefix = "Kinesis_20131202.";
constexpr std::size_t kMaxGetRecordsBytes = 10 * 1024 * 1024;
constexpr std::size_t kMaxPutRecordsBytes = 5 * 1024 * 1024;

// Wire-only kinds, beyond storage::KinesisError, carried in Status::detail.
enum class WireError {
  kSerialization = 100,
  kUnknownOperation = 101,
};

Status wire_error(WireError e, std::string message) {
  return Status(e == WireError::kUnknownOperation ? Code::kUnknownOperation : Code::kValidation, std::move(message),
                static_cast<int>(e));
}

// ---- the one table from an error to its __type and HTTP status ---------------------------

struct ErrorShape {
  int status;
  const char* type;
};

ErrorShape shape_of(const Status& s) {
  switch (s.detail()) {
    case static_cast<int>(KinesisError::kResourceNotFound): return {400, "ResourceNotFoundException"};
    case static_cast<int>(KinesisError::kResourceInUse): return {400, "ResourceInUseException"};
    case static_cast<int>(KinesisError::kInvalidArgument): return {400, "InvalidArgumentException"};
    case static_cast<int>(KinesisError::kLimitExceeded): return {400, "LimitExceededException"};
    case static_cast<int>(KinesisError::kExpiredIterator): return {400, "ExpiredIteratorException"};
    case static_cast<int>(KinesisError::kValidation): return {400, "ValidationException"};
    case static_cast<int>(KinesisError::kProvisionedThroughputExceeded):
      return {400, "ProvisionedThroughputExceededException"};
    case static_cast<int>(WireError::kSerialization): return {400, "SerializationException"};
    case static_cast<int>(WireError::kUnknownOperation): return {400, "UnknownOperationException"};
    default: break;
  }
  switch (s.code()) {
    case Code::kValidation: return {400, "ValidationException"};
    case Code::kNotFound: return {400, "ResourceNotFoundException"};
    case Code::kInUse: return {400, "ResourceInUseException"};
    case Code::kInvalidParameter: return {400, "InvalidArgumentException"};
    case Code::kTooLarge: return {413, "SerializationException"};
    default: return {500, "InternalFailure"};
  }
}

Response json_response(std::string body) {
  Response r;
  r.content_type = "application/x-amz-json-1.1";
  r.body = std::move(body);
  return r;
}

Response error_response(const Status& s) {
  const ErrorShape shape = shape_of(s);
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("__type");
  w.String(shape.type);
  w.Key("message");
  w.String(s.message().c_str(), static_cast<rapidjson::SizeType>(s.message().size()));
  w.EndObject();
  Response r = json_response({buf.GetString(), buf.GetSize()});
  r.status = shape.status;
  r.headers.emplace_back("x-amzn-ErrorType", shape.type);
  return r;
}

void put_string(Writer& w, const char* key, std::string_view v) {
  w.Key(key);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

// Epoch seconds with a millisecond fraction, as the JSON protocol carries timestamps.
void put_time(Writer& w, const char* key, std::int64_t ms) {
  w.Key(key);
  w.Double(static_cast<double>(ms) / 1000.0);
}

// ---- the service model's constraints -------------------------------------------------------

bool name_chars(std::string_view s) {
  for (char ch : s)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
          ch == '.' || ch == '-'))
      return false;
  return !s.empty();
}

// 0|([1-9]\d{0,max_digits-1})
bool decimal_pattern(std::string_view s, std::size_t max_digits) {
  if (s == "0") return true;
  if (s.empty() || s.size() > max_digits || s[0] == '0') return false;
  return s.find_first_not_of("0123456789") == std::string_view::npos;
}

// arn:aws.*:kinesis:.*:\d{12}:stream/\S+ (the model's StreamARN pattern), matched by hand in
// one pass: std::regex recurses once a character and a long ARN would exhaust the stack.
bool stream_arn_pattern(std::string_view s) {
  if (!s.starts_with("arn:aws")) return false;
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  const std::size_t kinesis = s.find(":kinesis:", 7);
  if (kinesis == std::string_view::npos) return false;
  // '.' matches anything but a line break; \S+ runs to the end.
  const std::size_t line_break = s.find_first_of("\n\r", 7);
  std::size_t last_space = std::string_view::npos;
  for (std::size_t i = s.size(); i-- > 0;)
    if (is_space(s[i])) {
      last_space = i;
      break;
    }
  for (std::size_t at = s.find(":stream/", kinesis); at != std::string_view::npos; at = s.find(":stream/", at + 1)) {
    if (at < 13 || kinesis + 9 > at - 13 || s[at - 13] != ':') continue;
    if (line_break != std::string_view::npos && line_break < at - 13) return false;
    bool digits = true;
    for (std::size_t i = at - 12; i < at; ++i) digits = digits && s[i] >= '0' && s[i] <= '9';
    if (!digits || at + 8 >= s.size()) continue;
    if (last_space == std::string_view::npos || last_space < at + 8) return true;
  }
  return false;
}

// Collects what a request breaks: type errors (SerializationException, first wins) and model
// constraints (ValidationException, all of them, as AWS lists them).
class Checker {
 public:
  explicit Checker(const Value& in) : in_(in) {}

  const Value* member(const char* name) {
    auto it = in_.FindMember(name);
    if (it == in_.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
  }

  std::optional<std::string> string(const char* name, const char* wire, bool required, std::size_t min,
                                    std::size_t max, const char* pattern = nullptr,
                                    bool (*matches)(std::string_view) = nullptr) {
    const Value* v = member(name);
    if (!v) {
      if (required) violate("null", wire, "Member must not be null");
      return std::nullopt;
    }
    if (!v->IsString()) {
      type_error(name, "a string");
      return std::nullopt;
    }
    std::string s(v->GetString(), v->GetStringLength());
    check_string(s, wire, min, max, pattern, matches);
    return s;
  }

  void check_string(const std::string& s, const std::string& wire, std::size_t min, std::size_t max,
                    const char* pattern, bool (*matches)(std::string_view)) {
    if (s.size() > max) violate(quote(s), wire, "Member must have length less than or equal to " + std::to_string(max));
    if (s.size() < min)
      violate(quote(s), wire, "Member must have length greater than or equal to " + std::to_string(min));
    if (pattern && matches && !s.empty() && s.size() <= max && !matches(s))
      violate(quote(s), wire, std::string("Member must satisfy regular expression pattern: ") + pattern);
  }

  std::optional<long long> integer(const char* name, const char* wire, bool required, std::optional<long long> min,
                                   std::optional<long long> max) {
    const Value* v = member(name);
    if (!v) {
      if (required) violate("null", wire, "Member must not be null");
      return std::nullopt;
    }
    if (!v->IsInt64()) {
      type_error(name, "an integer");
      return std::nullopt;
    }
    const long long n = v->GetInt64();
    if (n < INT32_MIN || n > INT32_MAX) {
      type_error(name, "a 32-bit integer");
      return std::nullopt;
    }
    if (max && n > *max)
      violate(quote(std::to_string(n)), wire, "Member must have value less than or equal to " + std::to_string(*max));
    if (min && n < *min)
      violate(quote(std::to_string(n)), wire,
              "Member must have value greater than or equal to " + std::to_string(*min));
    return n;
  }

  std::optional<std::string> enumeration(const char* name, const char* wire, bool required,
                                         const std::vector<const char*>& values) {
    auto s = string(name, wire, required, 0, SIZE_MAX);
    if (!s) return s;
    for (const char* v : values)
      if (*s == v) return s;
    std::string set = "[";
    for (std::size_t i = 0; i < values.size(); ++i) set += (i ? ", " : "") + std::string(values[i]);
    violate(quote(*s), wire, "Member must satisfy enum value set: " + set + "]");
    return std::nullopt;
  }

  // A blob: base64 on the wire.
  std::optional<std::string> blob(const Value& obj, const char* name, const std::string& wire, std::size_t max) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || it->value.IsNull()) {
      violate("null", wire, "Member must not be null");
      return std::nullopt;
    }
    if (!it->value.IsString()) {
      type_error(name, "a base64-encoded string");
      return std::nullopt;
    }
    auto raw = base64_decode(std::string_view(it->value.GetString(), it->value.GetStringLength()));
    if (!raw) {
      serialization_ = serialization_.is_ok()
                           ? wire_error(WireError::kSerialization, std::string("Base64 encoded value of ") + name +
                                                                       " is not valid.")
                           : serialization_;
      return std::nullopt;
    }
    if (raw->size() > max)
      violate("'java.nio.HeapByteBuffer[pos=0 lim=" + std::to_string(raw->size()) + " cap=" +
                  std::to_string(raw->size()) + "]'",
              wire, "Member must have length less than or equal to " + std::to_string(max));
    return raw;
  }

  // Epoch seconds (a number; a numeric string is accepted too).
  std::optional<std::int64_t> timestamp(const char* name) {
    const Value* v = member(name);
    if (!v) return std::nullopt;
    double secs = 0;
    if (v->IsNumber()) {
      secs = v->GetDouble();
    } else if (v->IsString()) {
      char* end = nullptr;
      secs = std::strtod(v->GetString(), &end);
      if (end == v->GetString() || *end != '\0') {
        type_error(name, "a timestamp");
        return std::nullopt;
      }
    } else {
      type_error(name, "a timestamp");
      return std::nullopt;
    }
    if (!std::isfinite(secs) || secs < 0 || secs > 1e13) {
      type_error(name, "a timestamp");
      return std::nullopt;
    }
    return static_cast<std::int64_t>(std::llround(secs * 1000.0));
  }

  // value: as AWS prints it, quoted ('x') or null.
  void violate(const std::string& value, const std::string& wire, const std::string& constraint) {
    items_.push_back("Value " + value + " at '" + wire + "' failed to satisfy constraint: " + constraint);
  }
  void type_error(const char* name, const char* expected) {
    if (serialization_.is_ok())
      serialization_ =
          wire_error(WireError::kSerialization, std::string("Unexpected value type for ") + name + ": expected " +
                                                    expected + ".");
  }

  Status status() const {
    if (!serialization_.is_ok()) return serialization_;
    if (items_.empty()) return Status::ok();
    std::string m = std::to_string(items_.size()) +
                    (items_.size() == 1 ? " validation error detected: " : " validation errors detected: ");
    for (std::size_t i = 0; i < items_.size(); ++i) m += (i ? "; " : "") + items_[i];
    return storage::kinesis_error(KinesisError::kValidation, std::move(m));
  }

  static std::string quote(const std::string& s) { return "'" + s + "'"; }

 private:
  const Value& in_;
  std::vector<std::string> items_;
  Status serialization_;
};

bool is_stream_name(std::string_view s) { return name_chars(s); }
bool is_sequence_number(std::string_view s) { return decimal_pattern(s, 129); }
bool is_hash_key(std::string_view s) { return decimal_pattern(s, 39); }
bool is_stream_arn(std::string_view s) { return stream_arn_pattern(s); }

// StreamName and StreamARN, the pair most operations take (one of them is needed).
void check_stream_ref(Checker& c) {
  (void)c.string("StreamName", "streamName", false, 1, 128, "[a-zA-Z0-9_.-]+", is_stream_name);
  (void)c.string("StreamARN", "streamARN", false, 1, 2048, "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+", is_stream_arn);
}

std::optional<std::string> str(const Value& o, const char* name) {
  auto it = o.FindMember(name);
  if (it == o.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::optional<long long> integer(const Value& o, const char* name) {
  auto it = o.FindMember(name);
  if (it == o.MemberEnd() || !it->value.IsInt64()) return std::nullopt;
  return it->value.GetInt64();
}

std::optional<int> shard_index_of(const Stream& s, const std::string& shard_id) {
  if (shard_id.size() != 20 || !shard_id.starts_with("shardId-")) return std::nullopt;
  const std::string digits = shard_id.substr(8);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const long long i = std::stoll(digits);
  if (i < 0 || i >= static_cast<long long>(s.shards.size())) return std::nullopt;
  return static_cast<int>(i);
}

void write_stream_mode(Writer& w, const Stream& s) {
  w.Key("StreamModeDetails");
  w.StartObject();
  put_string(w, "StreamMode", s.mode);
  w.EndObject();
}

void write_shard(Writer& w, const Stream& s, const storage::Shard& sh) {
  w.StartObject();
  put_string(w, "ShardId", sh.id);
  w.Key("HashKeyRange");
  w.StartObject();
  put_string(w, "StartingHashKey", sh.hash_start);
  put_string(w, "EndingHashKey", sh.hash_end);
  w.EndObject();
  w.Key("SequenceNumberRange");
  w.StartObject();
  put_string(w, "StartingSequenceNumber", storage::sequence_number_of(s, sh.index, 0));
  w.EndObject();
  w.EndObject();
}

void write_monitoring(Writer& w) {
  w.Key("EnhancedMonitoring");
  w.StartArray();
  w.StartObject();
  w.Key("ShardLevelMetrics");
  w.StartArray();
  w.EndArray();
  w.EndObject();
  w.EndArray();
}

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

// Epoch seconds with the milliseconds as a fraction, e.g. 1732900800.123.
void append_epoch_seconds(std::string& out, std::int64_t ms) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ms / 1000),
                              static_cast<long long>(ms % 1000));
  out.append(buf, static_cast<std::size_t>(n));
}

// GetRecords' answer, written straight from the shard: the hot path of every consumer, with up
// to 10,000 records (10 MiB) an answer.
std::string get_records_body(storage::StreamEngine& streams, const Stream& s, int shard, std::int64_t from, int limit,
                             std::int64_t now) {
  const StreamEngine::ShardSpan span = streams.peek(s, shard, from, limit, kMaxGetRecordsBytes, now);
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
  out += streams.make_iterator(s, shard, span.next_index, now);
  out += "\",\"MillisBehindLatest\":";
  out += std::to_string(span.millis_behind_latest);
  out.push_back('}');
  return out;
}

const std::set<std::string>& operations() {
  static const std::set<std::string> ops = {
      "CreateStream", "DeleteStream", "DescribeStream", "DescribeStreamSummary", "ListStreams", "ListShards",
      "PutRecord", "PutRecords", "GetShardIterator", "GetRecords", "AddTagsToStream", "RemoveTagsFromStream",
      "ListTagsForStream", "IncreaseStreamRetentionPeriod", "DecreaseStreamRetentionPeriod", "DescribeLimits"};
  return ops;
}

bool is_read(const std::string& op) {
  return op == "DescribeStream" || op == "DescribeStreamSummary" || op == "ListStreams" || op == "ListShards" ||
         op == "DescribeLimits" ||
         op == "GetShardIterator" || op == "GetRecords" || op == "ListTagsForStream";
}

// The model checks of each operation, on the I/O thread before any work is queued.
Status validate(const std::string& op, const Value& in, std::vector<StreamEngine::PutInput>* puts) {
  Checker c(in);
  if (op == "CreateStream") {
    (void)c.string("StreamName", "streamName", true, 1, 128, "[a-zA-Z0-9_.-]+", is_stream_name);
    (void)c.integer("ShardCount", "shardCount", false, 1, std::nullopt);
    if (const Value* m = c.member("StreamModeDetails")) {
      if (!m->IsObject()) {
        c.type_error("StreamModeDetails", "a structure");
      } else {
        Checker inner(*m);
        (void)inner.enumeration("StreamMode", "streamModeDetails.streamMode", true, {"PROVISIONED", "ON_DEMAND"});
        if (Status s = inner.status(); !s.is_ok()) return s;
      }
    }
    if (const Value* t = c.member("Tags")) {
      if (!t->IsObject()) {
        c.type_error("Tags", "a map");
      } else {
        for (const auto& m : t->GetObject())
          if (!m.value.IsString()) c.type_error("Tags", "a map of strings");
      }
    }
  } else if (op == "DeleteStream" || op == "DescribeStreamSummary") {
    check_stream_ref(c);
  } else if (op == "DescribeStream") {
    check_stream_ref(c);
    (void)c.integer("Limit", "limit", false, 1, 10000);
    (void)c.string("ExclusiveStartShardId", "exclusiveStartShardId", false, 1, 128, "[a-zA-Z0-9_.-]+", is_stream_name);
  } else if (op == "ListStreams") {
    (void)c.integer("Limit", "limit", false, 1, 10000);
    (void)c.string("ExclusiveStartStreamName", "exclusiveStartStreamName", false, 1, 128, "[a-zA-Z0-9_.-]+",
                   is_stream_name);
    (void)c.string("NextToken", "nextToken", false, 1, 1048576);
  } else if (op == "ListShards") {
    check_stream_ref(c);
    (void)c.string("NextToken", "nextToken", false, 1, 1048576);
    (void)c.string("ExclusiveStartShardId", "exclusiveStartShardId", false, 1, 128, "[a-zA-Z0-9_.-]+", is_stream_name);
    (void)c.integer("MaxResults", "maxResults", false, 1, 10000);
    (void)c.timestamp("StreamCreationTimestamp");
    if (const Value* f = c.member("ShardFilter")) {
      if (!f->IsObject()) {
        c.type_error("ShardFilter", "a structure");
      } else {
        Checker inner(*f);
        (void)inner.enumeration("Type", "shardFilter.type", true,
                                {"AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST", "AT_TIMESTAMP",
                                 "FROM_TIMESTAMP"});
        (void)inner.string("ShardId", "shardFilter.shardId", false, 1, 128, "[a-zA-Z0-9_.-]+", is_stream_name);
        (void)inner.timestamp("Timestamp");
        if (Status s = inner.status(); !s.is_ok()) return s;
      }
    }
  } else if (op == "PutRecord") {
    check_stream_ref(c);
    StreamEngine::PutInput p;
    auto data = c.blob(in, "Data", "data", StreamEngine::kMaxRecordBytes);
    auto key = c.string("PartitionKey", "partitionKey", true, 1, 256);
    auto hash = c.string("ExplicitHashKey", "explicitHashKey", false, 0, SIZE_MAX, "0|([1-9]\\d{0,38})", is_hash_key);
    (void)c.string("SequenceNumberForOrdering", "sequenceNumberForOrdering", false, 0, SIZE_MAX,
                   "0|([1-9]\\d{0,128})", is_sequence_number);
    if (Status s = c.status(); !s.is_ok()) return s;
    p.data = std::move(*data);
    p.partition_key = std::move(*key);
    p.explicit_hash_key = hash.value_or("");
    if (Status s = StreamEngine::validate_put(p); !s.is_ok()) return s;
    puts->push_back(std::move(p));
  } else if (op == "PutRecords") {
    check_stream_ref(c);
    const Value* records = c.member("Records");
    if (!records) {
      c.violate("null", "records", "Member must not be null");
    } else if (!records->IsArray()) {
      c.type_error("Records", "a list");
    } else {
      const auto n = records->Size();
      if (n < 1) c.violate("'[]'", "records", "Member must have length greater than or equal to 1");
      if (n > 500) c.violate("'[" + std::to_string(n) + " records]'", "records", "Member must have length less than or equal to 500");
      std::size_t total = 0;
      rapidjson::SizeType i = 0;
      for (const auto& e : records->GetArray()) {
        ++i;
        const std::string at = "records." + std::to_string(i) + ".member.";
        if (!e.IsObject()) {
          c.type_error("Records", "a list of structures");
          continue;
        }
        StreamEngine::PutInput p;
        auto data = c.blob(e, "Data", at + "data", StreamEngine::kMaxRecordBytes);
        auto key = str(e, "PartitionKey");
        if (!e.HasMember("PartitionKey") || e["PartitionKey"].IsNull()) c.violate("null", at + "partitionKey", "Member must not be null");
        else if (!key) c.type_error("PartitionKey", "a string");
        else c.check_string(*key, at + "partitionKey", 1, 256, nullptr, nullptr);
        auto hash = str(e, "ExplicitHashKey");
        if (e.HasMember("ExplicitHashKey") && !e["ExplicitHashKey"].IsNull() && !hash) c.type_error("ExplicitHashKey", "a string");
        if (hash) c.check_string(*hash, at + "explicitHashKey", 0, SIZE_MAX, "0|([1-9]\\d{0,38})", is_hash_key);
        if (data && key) {
          p.data = std::move(*data);
          p.partition_key = std::move(*key);
          p.explicit_hash_key = hash.value_or("");
          total += p.data.size() + p.partition_key.size();
          puts->push_back(std::move(p));
        }
      }
      if (Status s = c.status(); !s.is_ok()) return s;
      if (total > kMaxPutRecordsBytes)
        return storage::kinesis_error(KinesisError::kInvalidArgument,
                                      "Records size exceeds 5 MB limit: " + std::to_string(total) + " bytes.");
      for (const auto& p : *puts)
        if (Status s = StreamEngine::validate_put(p); !s.is_ok()) return s;
    }
  } else if (op == "GetShardIterator") {
    check_stream_ref(c);
    (void)c.string("ShardId", "shardId", true, 1, 128, "[a-zA-Z0-9_.-]+", is_stream_name);
    (void)c.enumeration("ShardIteratorType", "shardIteratorType", true,
                        {"AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"});
    (void)c.string("StartingSequenceNumber", "startingSequenceNumber", false, 0, SIZE_MAX, "0|([1-9]\\d{0,128})",
                   is_sequence_number);
    (void)c.timestamp("Timestamp");
  } else if (op == "GetRecords") {
    (void)c.string("ShardIterator", "shardIterator", true, 1, 512);
    (void)c.integer("Limit", "limit", false, 1, 10000);
    (void)c.string("StreamARN", "streamARN", false, 1, 2048, "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+", is_stream_arn);
  } else if (op == "AddTagsToStream") {
    check_stream_ref(c);
    const Value* t = c.member("Tags");
    if (!t) {
      c.violate("null", "tags", "Member must not be null");
    } else if (!t->IsObject()) {
      c.type_error("Tags", "a map");
    } else {
      if (t->MemberCount() < 1) c.violate("'{}'", "tags", "Member must have length greater than or equal to 1");
      if (t->MemberCount() > 200) c.violate("'{" + std::to_string(t->MemberCount()) + " tags}'", "tags", "Member must have length less than or equal to 200");
      for (const auto& m : t->GetObject()) {
        if (!m.value.IsString()) {
          c.type_error("Tags", "a map of strings");
          break;
        }
        const std::string k(m.name.GetString(), m.name.GetStringLength());
        if (k.empty() || k.size() > 128)
          c.violate("'" + k + "'", "tags",
                    "Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member "
                    "must have length greater than or equal to 1]");
        if (m.value.GetStringLength() > 256)
          c.violate("'" + std::string(m.value.GetString()) + "'", "tags",
                    "Map value must satisfy constraint: [Member must have length less than or equal to 256]");
      }
    }
  } else if (op == "RemoveTagsFromStream") {
    check_stream_ref(c);
    const Value* keys = c.member("TagKeys");
    if (!keys) {
      c.violate("null", "tagKeys", "Member must not be null");
    } else if (!keys->IsArray()) {
      c.type_error("TagKeys", "a list");
    } else {
      if (keys->Size() < 1) c.violate("'[]'", "tagKeys", "Member must have length greater than or equal to 1");
      if (keys->Size() > 50) c.violate("'[" + std::to_string(keys->Size()) + " keys]'", "tagKeys", "Member must have length less than or equal to 50");
      for (const auto& k : keys->GetArray())
        if (!k.IsString()) c.type_error("TagKeys", "a list of strings");
    }
  } else if (op == "ListTagsForStream") {
    check_stream_ref(c);
    (void)c.string("ExclusiveStartTagKey", "exclusiveStartTagKey", false, 1, 128);
    (void)c.integer("Limit", "limit", false, 1, 50);
  } else if (op == "IncreaseStreamRetentionPeriod" || op == "DecreaseStreamRetentionPeriod") {
    check_stream_ref(c);
    (void)c.integer("RetentionPeriodHours", "retentionPeriodHours", true, std::nullopt, std::nullopt);
  }
  return c.status();
}

}  // namespace

bool KinesisApi::matches(const Request& req) { return req.header("x-amz-target").starts_with(kTargetPrefix); }

void KinesisApi::handle(Request req, Reply reply) {
  const std::string op(req.header("x-amz-target").substr(kTargetPrefix.size()));
  if (!operations().count(op))
    return reply(error_response(wire_error(WireError::kUnknownOperation, "")));
  // Puts, the hot path, are parsed whole here into PutInputs, in a document whose memory is on
  // the stack; the other operations hand their document to the job.
  const bool is_put = op == "PutRecord" || op == "PutRecords";
  char pool_buffer[8192];
  rapidjson::MemoryPoolAllocator<> pool(pool_buffer, sizeof pool_buffer);
  Document local(&pool);
  auto in = is_put ? std::shared_ptr<Document>() : std::make_shared<Document>();
  Document& doc = is_put ? local : *in;
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    doc.SetObject();
  } else {
    // Iterative: a body of deeply nested brackets must not overflow the I/O thread's stack.
    doc.Parse<rapidjson::kParseIterativeFlag>(req.body.c_str(), req.body.size());
    if (doc.HasParseError() || !doc.IsObject())
      return reply(error_response(wire_error(WireError::kSerialization, "The request body is not a valid JSON object.")));
  }
  auto puts = std::make_shared<std::vector<StreamEngine::PutInput>>();
  if (Status s = validate(op, doc, puts.get()); !s.is_ok()) return reply(error_response(s));
  spdlog::debug("kinesis {}", op);
  // Checked by validate: strings when present.
  const std::optional<std::string> stream_name = str(doc, "StreamName");
  const std::optional<std::string> stream_arn = str(doc, "StreamARN");

  const std::string region = req.region;
  auto job = [this, op, in, puts, region, stream_name, stream_arn, reply](storage::Connection& c) mutable
      -> storage::DbWorker::Done {
    const std::int64_t now = clock_.now_ms();
    const std::string& account = streams_.account();
    auto fail = [&](const Status& s) -> storage::DbWorker::Done {
      return [reply, r = error_response(s)](const Status&) { reply(r); };
    };
    // StreamARN wins over StreamName; either names the stream.
    auto resolve = [&]() -> Result<Stream*> {
      const auto& arn = stream_arn;
      const auto& name = stream_name;
      if (arn) {
        Stream* s = streams_.find_by_arn(*arn);
        const auto slash = arn->find(":stream/");
        const std::string arn_name = slash == std::string::npos ? *arn : arn->substr(slash + 8);
        if (!s)
          return storage::kinesis_error(KinesisError::kResourceNotFound,
                                        "Stream " + arn_name + " under account " + account + " not found.");
        if (name && *name != s->name)
          return storage::kinesis_error(KinesisError::kInvalidArgument,
                                        "StreamARN " + *arn + " does not match StreamName " + *name + ".");
        return s;
      }
      if (!name)
        return storage::kinesis_error(KinesisError::kInvalidArgument,
                                      "Either StreamName or StreamARN must be provided.");
      return streams_.find(region, *name);
    };

    if (op == "PutRecord") {  // the hot path: no writer, one string
      auto sr = resolve();
      if (!sr) return fail(sr.status());
      Stream& s = **sr;
      auto r = streams_.put(c, s, std::move((*puts)[0]), now);
      if (!r) return fail(r.status());
      std::string body = "{\"ShardId\":\"";
      body += s.shards[static_cast<std::size_t>(r->shard)].id;
      body += "\",\"SequenceNumber\":\"";
      body += r->sequence_number;
      body += "\"}";
      auto resp = std::make_shared<Response>(json_response(std::move(body)));
      return [reply, resp](const Status& commit) {
        if (!commit.is_ok()) return reply(error_response(internal_error("The change could not be saved.")));
        reply(std::move(*resp));
      };
    }

    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    bool empty_body = false;

    if (op == "CreateStream") {
      const std::string name = *str(*in, "StreamName");
      std::string mode = "PROVISIONED";
      if (in->HasMember("StreamModeDetails") && (*in)["StreamModeDetails"].IsObject())
        mode = str((*in)["StreamModeDetails"], "StreamMode").value_or("PROVISIONED");
      auto shards = integer(*in, "ShardCount");
      // A request with neither a ShardCount nor a mode creates an on-demand stream, as AWS does
      // since on-demand streams exist.
      if (!shards && !in->HasMember("StreamModeDetails")) mode = "ON_DEMAND";
      if (mode == "PROVISIONED" && !shards)
        return fail(storage::kinesis_error(KinesisError::kInvalidArgument,
                                           "ShardCount is required for streams in PROVISIONED mode."));
      if (mode == "ON_DEMAND" && shards)
        return fail(storage::kinesis_error(KinesisError::kInvalidArgument,
                                           "ShardCount is not supported for streams in ON_DEMAND mode."));
      std::map<std::string, std::string> tags;
      if (in->HasMember("Tags") && (*in)["Tags"].IsObject())
        for (const auto& m : (*in)["Tags"].GetObject())
          if (m.value.IsString()) tags[m.name.GetString()] = m.value.GetString();
      auto s = streams_.create_stream(c, region, name, shards ? static_cast<int>(*shards) : StreamEngine::kOnDemandShards,
                                      mode, tags, now);
      if (!s) return fail(s.status());
      empty_body = true;
    } else if (op == "DescribeLimits") {
      int open_shards = 0, on_demand = 0;
      for (const Stream* st : streams_.list(region)) {
        open_shards += static_cast<int>(st->shards.size());
        on_demand += st->mode == "ON_DEMAND" ? 1 : 0;
      }
      w.Key("ShardLimit");
      w.Int(StreamEngine::kMaxShards);
      w.Key("OpenShardCount");
      w.Int(open_shards);
      w.Key("OnDemandStreamCount");
      w.Int(on_demand);
      w.Key("OnDemandStreamCountLimit");
      w.Int(StreamEngine::kMaxOnDemandStreams);
    } else if (op == "ListStreams") {
      const long long limit = integer(*in, "Limit").value_or(100);
      std::string after = str(*in, "ExclusiveStartStreamName").value_or("");
      if (auto token = str(*in, "NextToken")) {
        auto raw = base64_decode(*token);
        if (!raw || !raw->starts_with("streams:"))
          return fail(storage::kinesis_error(KinesisError::kInvalidArgument, "NextToken is invalid."));
        after = raw->substr(8);
      }
      std::vector<const Stream*> page;
      bool more = false;
      for (const Stream* s : streams_.list(region)) {
        if (!after.empty() && s->name <= after) continue;
        if (static_cast<long long>(page.size()) >= limit) {
          more = true;
          break;
        }
        page.push_back(s);
      }
      w.Key("StreamNames");
      w.StartArray();
      for (const Stream* s : page) w.String(s->name.c_str(), static_cast<rapidjson::SizeType>(s->name.size()));
      w.EndArray();
      w.Key("HasMoreStreams");
      w.Bool(more);
      if (more) put_string(w, "NextToken", base64_encode("streams:" + page.back()->name));
      w.Key("StreamSummaries");
      w.StartArray();
      for (const Stream* s : page) {
        w.StartObject();
        put_string(w, "StreamName", s->name);
        put_string(w, "StreamARN", s->arn);
        put_string(w, "StreamStatus", s->status);
        write_stream_mode(w, *s);
        put_time(w, "StreamCreationTimestamp", s->created_ms);
        w.EndObject();
      }
      w.EndArray();
    } else if (op == "GetRecords") {
      auto pos = streams_.open_iterator(*str(*in, "ShardIterator"), now);
      if (!pos) return fail(pos.status());
      const int limit = static_cast<int>(integer(*in, "Limit").value_or(10000));
      auto resp = std::make_shared<Response>(
          json_response(get_records_body(streams_, *pos->stream, pos->shard, pos->index, limit, now)));
      return [reply, resp](const Status&) { reply(std::move(*resp)); };
    } else {
      // ListShards' NextToken names the stream itself.
      Result<Stream*> sr = static_cast<Stream*>(nullptr);
      if (op == "ListShards" && in->HasMember("NextToken")) {
        auto raw = base64_decode(str(*in, "NextToken").value_or(""));
        unsigned long long sid = 0;
        Stream* found = raw && std::sscanf(raw->c_str(), "shards:%llu:", &sid) == 1
                            ? streams_.find_by_id(static_cast<std::int64_t>(sid))
                            : nullptr;
        if (!found) return fail(storage::kinesis_error(KinesisError::kInvalidArgument, "NextToken is invalid."));
        sr = found;
      } else {
        sr = resolve();
      }
      if (!sr) return fail(sr.status());
      Stream& s = **sr;
      if (op == "DeleteStream") {
        if (Status st = streams_.delete_stream(c, s); !st.is_ok()) return fail(st);
        empty_body = true;
      } else if (op == "DescribeStream") {
        const long long limit = integer(*in, "Limit").value_or(100);
        int start = 0;
        if (auto after = str(*in, "ExclusiveStartShardId")) {
          // Shards sort by id; a shard id that is not there starts after where it would be.
          start = static_cast<int>(std::upper_bound(s.shards.begin(), s.shards.end(), *after,
                                                    [](const std::string& id, const storage::Shard& sh) {
                                                      return id < sh.id;
                                                    }) -
                                   s.shards.begin());
        }
        w.Key("StreamDescription");
        w.StartObject();
        put_string(w, "StreamName", s.name);
        put_string(w, "StreamARN", s.arn);
        put_string(w, "StreamStatus", s.status);
        write_stream_mode(w, s);
        w.Key("Shards");
        w.StartArray();
        int i = start;
        for (; i < static_cast<int>(s.shards.size()) && i - start < limit; ++i)
          write_shard(w, s, s.shards[static_cast<std::size_t>(i)]);
        w.EndArray();
        w.Key("HasMoreShards");
        w.Bool(i < static_cast<int>(s.shards.size()));
        w.Key("RetentionPeriodHours");
        w.Int(s.retention_hours);
        put_time(w, "StreamCreationTimestamp", s.created_ms);
        write_monitoring(w);
        put_string(w, "EncryptionType", "NONE");
        w.EndObject();
      } else if (op == "DescribeStreamSummary") {
        w.Key("StreamDescriptionSummary");
        w.StartObject();
        put_string(w, "StreamName", s.name);
        put_string(w, "StreamARN", s.arn);
        put_string(w, "StreamStatus", s.status);
        write_stream_mode(w, s);
        w.Key("RetentionPeriodHours");
        w.Int(s.retention_hours);
        put_time(w, "StreamCreationTimestamp", s.created_ms);
        write_monitoring(w);
        put_string(w, "EncryptionType", "NONE");
        w.Key("OpenShardCount");
        w.Int(static_cast<int>(s.shards.size()));
        w.Key("ConsumerCount");
        w.Int(0);
        w.EndObject();
      } else if (op == "ListShards") {
        // NextToken carries the stream and the last shard listed; it excludes StreamName.
        int start = 0;
        if (auto token = str(*in, "NextToken")) {
          if (in->HasMember("StreamName"))
            return fail(storage::kinesis_error(KinesisError::kInvalidArgument,
                                               "NextToken and StreamName cannot be provided together."));
          auto raw = base64_decode(*token);
          unsigned long long sid = 0, created = 0;
          int next = 0;
          if (!raw || std::sscanf(raw->c_str(), "shards:%llu:%llu:%d", &sid, &created, &next) != 3 ||
              static_cast<std::int64_t>(sid) != s.id || static_cast<std::int64_t>(created) != s.created_ms ||
              next < 0 || next > static_cast<int>(s.shards.size()))
            return fail(storage::kinesis_error(KinesisError::kInvalidArgument, "NextToken is invalid."));
          start = next;
        }
        std::string after = str(*in, "ExclusiveStartShardId").value_or("");
        if (in->HasMember("ShardFilter") && (*in)["ShardFilter"].IsObject()) {
          const Value& f = (*in)["ShardFilter"];
          const std::string type = str(f, "Type").value_or("");
          if (type == "AFTER_SHARD_ID") {
            auto id = str(f, "ShardId");
            if (!id)
              return fail(storage::kinesis_error(KinesisError::kInvalidArgument,
                                                 "ShardId must be provided for AFTER_SHARD_ID ShardFilter type."));
            after = std::max(after, *id);
          } else if ((type == "AT_TIMESTAMP" || type == "FROM_TIMESTAMP") && !f.HasMember("Timestamp")) {
            return fail(storage::kinesis_error(KinesisError::kInvalidArgument,
                                               "Timestamp must be provided for " + type + " ShardFilter type."));
          }
          // Shards are never closed (no resharding), so every other filter keeps them all.
        }
        const long long max = integer(*in, "MaxResults").value_or(1000);
        w.Key("Shards");
        w.StartArray();
        int i = start;
        long long listed = 0;
        for (; i < static_cast<int>(s.shards.size()) && listed < max; ++i) {
          const auto& sh = s.shards[static_cast<std::size_t>(i)];
          if (!after.empty() && sh.id <= after) continue;
          write_shard(w, s, sh);
          ++listed;
        }
        w.EndArray();
        if (i < static_cast<int>(s.shards.size()))
          put_string(w, "NextToken",
                     base64_encode("shards:" + std::to_string(s.id) + ":" + std::to_string(s.created_ms) + ":" +
                                   std::to_string(i)));
      } else if (op == "PutRecords") {
        int failed = 0;
        std::vector<Result<StreamEngine::PutResult>> results;
        results.reserve(puts->size());
        for (auto& p : *puts) {
          results.push_back(streams_.put(c, s, std::move(p), now));
          if (!results.back()) ++failed;
        }
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
            put_string(w, "ErrorCode", shape_of(r.status()).type);
            put_string(w, "ErrorMessage", r.status().message());
          }
          w.EndObject();
        }
        w.EndArray();
      } else if (op == "GetShardIterator") {
        const std::string shard_id = *str(*in, "ShardId");
        auto shard = shard_index_of(s, shard_id);
        if (!shard)
          return fail(storage::kinesis_error(KinesisError::kResourceNotFound,
                                             "Shard " + shard_id + " in stream " + s.name + " under account " +
                                                 account + " does not exist"));
        const storage::Shard& sh = s.shards[static_cast<std::size_t>(*shard)];
        const std::string type = *str(*in, "ShardIteratorType");
        std::int64_t index = 0;
        if (type == "TRIM_HORIZON") {
          index = sh.first_index();
        } else if (type == "LATEST") {
          index = sh.next_index;
        } else if (type == "AT_SEQUENCE_NUMBER" || type == "AFTER_SEQUENCE_NUMBER") {
          auto seq = str(*in, "StartingSequenceNumber");
          if (!seq)
            return fail(storage::kinesis_error(KinesisError::kInvalidArgument,
                                               "Must specify StartingSequenceNumber for " + type +
                                                   " ShardIteratorType."));
          auto parts = storage::parse_sequence_number(*seq);
          const Status invalid = storage::kinesis_error(
              KinesisError::kInvalidArgument, "StartingSequenceNumber " + *seq + " used in GetShardIterator on shard " +
                                                  shard_id + " in stream " + s.name + " under account " + account +
                                                  " is invalid.");
          if (!parts || parts->stream_id != s.id) return fail(invalid);
          if (parts->shard != *shard) {
            char buf2[160];
            std::snprintf(buf2, sizeof buf2,
                          "Invalid StartingSequenceNumber. It encodes shardId-%012d, while it was used in a call to a "
                          "shard with %s",
                          parts->shard, shard_id.c_str());
            return fail(storage::kinesis_error(KinesisError::kInvalidArgument, buf2));
          }
          if (parts->record_index >= sh.next_index) return fail(invalid);
          index = parts->record_index + (type == "AFTER_SEQUENCE_NUMBER" ? 1 : 0);
        } else {  // AT_TIMESTAMP
          Checker tc(*in);
          auto ts = tc.timestamp("Timestamp");
          if (!ts)
            return fail(storage::kinesis_error(KinesisError::kInvalidArgument,
                                               "Must specify timestampInMillis parameter for iterator of type "
                                               "AT_TIMESTAMP. Current request has no timestamp parameter."));
          if (*ts > now)
            return fail(storage::kinesis_error(
                KinesisError::kInvalidArgument,
                "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
                "timestampInMillis: " + std::to_string(*ts) + ", currentTimestampInMillis: " + std::to_string(now)));
          index = streams_.index_at_timestamp(s, *shard, *ts);
        }
        put_string(w, "ShardIterator", streams_.make_iterator(s, *shard, index, now));
      } else if (op == "AddTagsToStream") {
        std::map<std::string, std::string> tags;
        for (const auto& m : (*in)["Tags"].GetObject()) tags[m.name.GetString()] = m.value.GetString();
        if (Status st = streams_.add_tags(c, s, tags); !st.is_ok()) return fail(st);
        empty_body = true;
      } else if (op == "RemoveTagsFromStream") {
        std::vector<std::string> keys;
        for (const auto& k : (*in)["TagKeys"].GetArray()) keys.emplace_back(k.GetString(), k.GetStringLength());
        if (Status st = streams_.remove_tags(c, s, keys); !st.is_ok()) return fail(st);
        empty_body = true;
      } else if (op == "ListTagsForStream") {
        const std::string after = str(*in, "ExclusiveStartTagKey").value_or("");
        const long long limit = integer(*in, "Limit").value_or(50);
        w.Key("Tags");
        w.StartArray();
        long long n = 0;
        bool more = false;
        for (const auto& [k, v] : s.tags) {
          if (!after.empty() && k <= after) continue;
          if (n >= limit) {
            more = true;
            break;
          }
          w.StartObject();
          put_string(w, "Key", k);
          put_string(w, "Value", v);
          w.EndObject();
          ++n;
        }
        w.EndArray();
        w.Key("HasMoreTags");
        w.Bool(more);
      } else if (op == "IncreaseStreamRetentionPeriod" || op == "DecreaseStreamRetentionPeriod") {
        const auto hours = *integer(*in, "RetentionPeriodHours");
        if (Status st = streams_.set_retention(c, s, static_cast<int>(hours), op == "IncreaseStreamRetentionPeriod");
            !st.is_ok())
          return fail(st);
        empty_body = true;
      }
    }
    w.EndObject();
    auto resp = std::make_shared<Response>(json_response(empty_body ? std::string() : std::string(buf.GetString(), buf.GetSize())));
    return [reply, resp](const Status& commit) {
      if (!commit.is_ok())
        return reply(error_response(internal_error("The change could not be saved.")));
      reply(std::move(*resp));
    };
  };
  auto refused = [reply](const Status& s) { reply(error_response(s)); };
  if (is_read(op)) db_.submit_relaxed(std::move(job), std::move(refused));
  else db_.submit(std::move(job), std::move(refused));
}

}  // namespace esm::api
