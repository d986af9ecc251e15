// CreateStream, DeleteStream, DescribeStream(Summary), DescribeLimits, ListStreams, ListShards
// and the retention period.

#include <algorithm>
#include <cstdio>

#include "api/kinesis/checker.h"
#include "api/kinesis/ops.h"
#include "core/codec.h"

namespace esm::api::kinesis_wire {
namespace {

using esm::kinesis::Shard;
using esm::kinesis::Stream;
using esm::kinesis::StreamEngine;

void write_stream_mode(Writer& w, const Stream& s) {
  w.Key("StreamModeDetails");
  w.StartObject();
  put_string(w, "StreamMode", s.mode);
  w.EndObject();
}

void write_shard(Writer& w, const Stream& s, const Shard& sh) {
  w.StartObject();
  put_string(w, "ShardId", sh.id);
  w.Key("HashKeyRange");
  w.StartObject();
  put_string(w, "StartingHashKey", sh.hash_start);
  put_string(w, "EndingHashKey", sh.hash_end);
  w.EndObject();
  w.Key("SequenceNumberRange");
  w.StartObject();
  put_string(w, "StartingSequenceNumber", esm::kinesis::sequence_number_of(s.id, sh.index, 0));
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

// The members DescribeStream and DescribeStreamSummary both start with.
void write_stream_head(Writer& w, const Stream& s) {
  put_string(w, "StreamName", s.name);
  put_string(w, "StreamARN", s.arn);
  put_string(w, "StreamStatus", s.status);
  write_stream_mode(w, s);
}

std::optional<WireError> check_stream_ref(const Value& in, Puts&) {
  Checker c(in);
  c.stream_ref();
  return c.error();
}

std::optional<WireError> check_create(const Value& in, Puts&) {
  Checker c(in);
  c.string("StreamName", "streamName", true, 1, 128, kNamePattern, is_name);
  c.integer("ShardCount", "shardCount", false, 1, std::nullopt);
  if (const Value* m = c.member("StreamModeDetails")) {
    if (!m->IsObject()) {
      c.type_error("StreamModeDetails", "a structure");
    } else {
      Checker inner(*m);
      inner.enumeration("StreamMode", "streamModeDetails.streamMode", true, {"PROVISIONED", "ON_DEMAND"});
      if (auto e = inner.error()) return e;
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
  return c.error();
}

Outcome create_stream(Call& call) {
  const Value& in = call.in;
  std::optional<std::string> mode;
  if (in.HasMember("StreamModeDetails"))
    mode = in["StreamModeDetails"].IsObject() ? str(in["StreamModeDetails"], "StreamMode").value_or("PROVISIONED")
                                               : "PROVISIONED";
  auto shape = StreamEngine::shape_of(integer(in, "ShardCount"), mode);
  if (!shape) return describe(shape.error());
  std::map<std::string, std::string> tags;
  if (in.HasMember("Tags") && in["Tags"].IsObject())
    for (const auto& m : in["Tags"].GetObject())
      if (m.value.IsString()) tags[m.name.GetString()] = m.value.GetString();
  auto s = call.streams.create_stream(call.c, call.region, *str(in, "StreamName"), shape->shards, shape->mode, tags,
                                      call.now);
  if (!s) return describe(s.error());
  return std::string();
}

Outcome delete_stream(Call& call) {
  auto s = call.stream();
  if (!s) return describe(s.error());
  if (auto r = call.streams.delete_stream(call.c, **s); !r) return describe(r.error());
  return std::string();
}

std::optional<WireError> check_describe(const Value& in, Puts&) {
  Checker c(in);
  c.stream_ref();
  c.integer("Limit", "limit", false, 1, 10000);
  c.string("ExclusiveStartShardId", "exclusiveStartShardId", false, 1, 128, kNamePattern, is_name);
  return c.error();
}

Outcome describe_stream(Call& call) {
  auto sr = call.stream();
  if (!sr) return describe(sr.error());
  const Stream& s = **sr;
  const long long limit = integer(call.in, "Limit").value_or(100);
  int start = 0;
  if (auto after = str(call.in, "ExclusiveStartShardId")) {
    // Shards sort by id; a shard id that is not there starts after where it would be.
    start = static_cast<int>(
        std::upper_bound(s.shards.begin(), s.shards.end(), *after,
                         [](const std::string& id, const Shard& sh) { return id < sh.id; }) -
        s.shards.begin());
  }
  return object_body([&](Writer& w) {
    w.Key("StreamDescription");
    w.StartObject();
    write_stream_head(w, s);
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
  });
}

Outcome describe_stream_summary(Call& call) {
  auto sr = call.stream();
  if (!sr) return describe(sr.error());
  const Stream& s = **sr;
  return object_body([&](Writer& w) {
    w.Key("StreamDescriptionSummary");
    w.StartObject();
    write_stream_head(w, s);
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
  });
}

std::optional<WireError> check_nothing(const Value&, Puts&) { return std::nullopt; }

Outcome describe_limits(Call& call) {
  int open_shards = 0, on_demand = 0;
  for (const Stream* st : call.streams.list(call.region)) {
    open_shards += static_cast<int>(st->shards.size());
    on_demand += st->mode == "ON_DEMAND" ? 1 : 0;
  }
  return object_body([&](Writer& w) {
    w.Key("ShardLimit");
    w.Int(StreamEngine::kMaxShards);
    w.Key("OpenShardCount");
    w.Int(open_shards);
    w.Key("OnDemandStreamCount");
    w.Int(on_demand);
    w.Key("OnDemandStreamCountLimit");
    w.Int(StreamEngine::kMaxOnDemandStreams);
  });
}

std::optional<WireError> check_list_streams(const Value& in, Puts&) {
  Checker c(in);
  c.integer("Limit", "limit", false, 1, 10000);
  c.string("ExclusiveStartStreamName", "exclusiveStartStreamName", false, 1, 128, kNamePattern, is_name);
  c.string("NextToken", "nextToken", false, 1, 1048576);
  return c.error();
}

Outcome list_streams(Call& call) {
  const long long limit = integer(call.in, "Limit").value_or(100);
  std::string after = str(call.in, "ExclusiveStartStreamName").value_or("");
  if (auto token = str(call.in, "NextToken")) {
    auto raw = base64_decode(*token);
    if (!raw || !raw->starts_with("streams:")) return invalid_argument("NextToken is invalid.");
    after = raw->substr(8);
  }
  std::vector<const Stream*> page;
  bool more = false;
  for (const Stream* s : call.streams.list(call.region)) {
    if (!after.empty() && s->name <= after) continue;
    if (static_cast<long long>(page.size()) >= limit) {
      more = true;
      break;
    }
    page.push_back(s);
  }
  return object_body([&](Writer& w) {
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
      write_stream_head(w, *s);
      put_time(w, "StreamCreationTimestamp", s->created_ms);
      w.EndObject();
    }
    w.EndArray();
  });
}

std::optional<WireError> check_list_shards(const Value& in, Puts&) {
  Checker c(in);
  c.stream_ref();
  c.string("NextToken", "nextToken", false, 1, 1048576);
  c.string("ExclusiveStartShardId", "exclusiveStartShardId", false, 1, 128, kNamePattern, is_name);
  c.integer("MaxResults", "maxResults", false, 1, 10000);
  c.timestamp("StreamCreationTimestamp");
  if (const Value* f = c.member("ShardFilter")) {
    if (!f->IsObject()) {
      c.type_error("ShardFilter", "a structure");
    } else {
      Checker inner(*f);
      inner.enumeration("Type", "shardFilter.type", true,
                        {"AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST", "AT_TIMESTAMP",
                         "FROM_TIMESTAMP"});
      inner.string("ShardId", "shardFilter.shardId", false, 1, 128, kNamePattern, is_name);
      inner.timestamp("Timestamp");
      if (auto e = inner.error()) return e;
    }
  }
  return c.error();
}

// ListShards' NextToken names the stream and the next shard; it excludes StreamName.
esm::Expected<std::pair<Stream*, int>, WireError> list_shards_start(Call& call) {
  if (!call.in.HasMember("NextToken")) {
    auto s = call.stream();
    if (!s) return describe(s.error());
    return std::pair<Stream*, int>{*s, 0};
  }
  auto raw = base64_decode(str(call.in, "NextToken").value_or(""));
  unsigned long long sid = 0, created = 0;
  int next = 0;
  const int fields = raw ? std::sscanf(raw->c_str(), "shards:%llu:%llu:%d", &sid, &created, &next) : 0;
  Stream* s = fields >= 1 ? call.streams.find_by_id(static_cast<std::int64_t>(sid)) : nullptr;
  if (!s) return invalid_argument("NextToken is invalid.");
  if (call.in.HasMember("StreamName"))
    return invalid_argument("NextToken and StreamName cannot be provided together.");
  if (fields != 3 || static_cast<std::int64_t>(created) != s->created_ms || next < 0 ||
      next > static_cast<int>(s->shards.size()))
    return invalid_argument("NextToken is invalid.");
  return std::pair<Stream*, int>{s, next};
}

Outcome list_shards(Call& call) {
  auto start = list_shards_start(call);
  if (!start) return start.error();
  const Stream& s = *start->first;
  std::string after = str(call.in, "ExclusiveStartShardId").value_or("");
  if (call.in.HasMember("ShardFilter") && call.in["ShardFilter"].IsObject()) {
    const Value& f = call.in["ShardFilter"];
    const std::string type = str(f, "Type").value_or("");
    if (type == "AFTER_SHARD_ID") {
      auto id = str(f, "ShardId");
      if (!id) return invalid_argument("ShardId must be provided for AFTER_SHARD_ID ShardFilter type.");
      after = std::max(after, *id);
    } else if ((type == "AT_TIMESTAMP" || type == "FROM_TIMESTAMP") && !f.HasMember("Timestamp")) {
      return invalid_argument("Timestamp must be provided for " + type + " ShardFilter type.");
    }
    // Shards are never closed (no resharding), so every other filter keeps them all.
  }
  const long long max = integer(call.in, "MaxResults").value_or(1000);
  return object_body([&](Writer& w) {
    w.Key("Shards");
    w.StartArray();
    int i = start->second;
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
  });
}

std::optional<WireError> check_retention(const Value& in, Puts&) {
  Checker c(in);
  c.stream_ref();
  c.integer("RetentionPeriodHours", "retentionPeriodHours", true, std::nullopt, std::nullopt);
  return c.error();
}

Outcome set_retention(Call& call, bool increase) {
  auto s = call.stream();
  if (!s) return describe(s.error());
  const auto hours = static_cast<int>(*integer(call.in, "RetentionPeriodHours"));
  if (auto r = call.streams.set_retention(call.c, **s, hours, increase); !r) return describe(r.error());
  return std::string();
}

Outcome increase_retention(Call& call) { return set_retention(call, true); }
Outcome decrease_retention(Call& call) { return set_retention(call, false); }

}  // namespace

void add_stream_ops(OperationTable& table) {
  table["CreateStream"] = {false, check_create, create_stream};
  table["DeleteStream"] = {false, check_stream_ref, delete_stream};
  table["DescribeStream"] = {true, check_describe, describe_stream};
  table["DescribeStreamSummary"] = {true, check_stream_ref, describe_stream_summary};
  table["DescribeLimits"] = {true, check_nothing, describe_limits};
  table["ListStreams"] = {true, check_list_streams, list_streams};
  table["ListShards"] = {true, check_list_shards, list_shards};
  table["IncreaseStreamRetentionPeriod"] = {false, check_retention, increase_retention};
  table["DecreaseStreamRetentionPeriod"] = {false, check_retention, decrease_retention};
}

}  // namespace esm::api::kinesis_wire
