#include "api/mapping_codec.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/internal/dtoa.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <utility>
#include <vector>

#include "api/errors.h"
#include "api/model_check.h"
#include "core/arn.h"
#include "core/codec.h"
#include "core/json_depth.h"

namespace esm::api {
const char* const kFunctionNamePattern =
    "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?"
    "([a-zA-Z0-9-_\\.]+)(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_]+))?";
const char* const kEventSourceArnPattern =
    "arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)";

namespace {

using rapidjson::Document;
using rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::array<const char*, 10> kOpaqueMembers{
    "Queues",        "SourceAccessConfigurations", "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig", "DocumentDBEventSourceConfig", "KMSKeyArn",
    "MetricsConfig", "LoggingConfig", "ProvisionedPollerConfig", "FilterCriteriaError"};

std::string to_json(const Value& v) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

std::string lower_camel(std::string_view path) {
  // "ScalingConfig.MaximumConcurrency" -> "scalingConfig.maximumConcurrency"
  std::string out(path);
  bool start = true;
  for (auto& c : out) {
    if (start && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    start = c == '.';
  }
  return out;
}

constexpr const char* kBootstrapServerPattern =
    "(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\-]*[a-zA-Z0-9])\\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\\-]*[A-Za-z0-9]):"
    "[0-9]{1,5}";

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// kBootstrapServerPattern: dot-separated host labels of letters, digits and inner hyphens, then
// a port of one to five digits.
bool is_bootstrap_server(std::string_view s) {
  const auto colon = s.rfind(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view port = s.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) return false;
  std::string_view host = s.substr(0, colon);
  for (;;) {
    const auto dot = host.find('.');
    const std::string_view label = host.substr(0, dot);
    if (label.empty() || !is_alnum(label.front()) || !is_alnum(label.back())) return false;
    for (char c : label)
      if (!is_alnum(c) && c != '-') return false;
    if (dot == std::string_view::npos) return true;
    host.remove_prefix(dot + 1);
  }
}

// A list of strings as AWS prints it in a validation message (Java's List.toString()).
std::string java_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out + "]";
}

// Collects model-layer violations and type errors while walking the body.
class Checker {
 public:
  void type_error(const std::string& member, const char* expected) {
    if (type_error_.empty())
      type_error_ = "Could not parse request body into json: Unexpected value type for '" + member + "', expected " +
                    expected;
  }
  // member is an AWS member path ("ScalingConfig.MaximumConcurrency"), printed lowerCamel
  // unless camel is false (a path that is already in its printed form).
  void violation(const std::string& value, const std::string& member, const std::string& constraint,
                 bool is_null = false, bool camel = true) {
    model_.violation(is_null ? "null" : ModelCheck::quoted(value), camel ? lower_camel(member) : member, constraint);
  }
  void range(const std::string& member, long long v, long long lo, long long hi) {
    model_.range(lower_camel(member), v, lo, hi);
  }
  void length(const std::string& member, const std::string& v, std::size_t lo, std::size_t hi) {
    model_.length(lower_camel(member), v, lo, hi);
  }
  template <std::size_t N>
  void one_of(const std::string& member, const std::string& v, const std::array<const char*, N>& values) {
    model_.one_of_any(lower_camel(member), v, values);
  }

  Status status() const {
    if (!type_error_.empty()) return invalid_parameter(type_error_);
    if (model_.ok()) return Status::ok();
    return validation_error(model_.message());
  }

 private:
  std::string type_error_;
  ModelCheck model_;
};

std::optional<std::string> get_string(const Value& obj, const char* name, Checker& ck, const std::string& path) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::nullopt;
  if (!it->value.IsString()) {
    ck.type_error(path, "a string");
    return std::nullopt;
  }
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::optional<long long> get_int(const Value& obj, const char* name, Checker& ck, const std::string& path) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::nullopt;
  if (!it->value.IsInt64()) {
    ck.type_error(path, "an integer");
    return std::nullopt;
  }
  return it->value.GetInt64();
}

std::optional<int> get_ranged(const Value& obj, const char* name, Checker& ck, long long lo, long long hi) {
  auto v = get_int(obj, name, ck, name);
  if (!v) return std::nullopt;
  ck.range(name, *v, lo, hi);
  if (*v < lo || *v > hi) return std::nullopt;
  return static_cast<int>(*v);
}

std::optional<bool> get_bool(const Value& obj, const char* name, Checker& ck) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::nullopt;
  if (!it->value.IsBool()) {
    ck.type_error(name, "a boolean");
    return std::nullopt;
  }
  return it->value.GetBool();
}

const Value* get_object(const Value& obj, const char* name, Checker& ck, const std::string& path) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  if (!it->value.IsObject()) {
    ck.type_error(path, "an object");
    return nullptr;
  }
  return &it->value;
}

const Value* get_array(const Value& obj, const char* name, Checker& ck, const std::string& path) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  if (!it->value.IsArray()) {
    ck.type_error(path, "a list");
    return nullptr;
  }
  return &it->value;
}

std::optional<std::vector<std::string>> get_string_list(const Value& obj, const char* name, Checker& ck,
                                                        const std::string& path) {
  const Value* arr = get_array(obj, name, ck, path);
  if (!arr) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& v : arr->GetArray()) {
    if (!v.IsString()) {
      ck.type_error(path, "a list of strings");
      return std::nullopt;
    }
    out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

// Members of CreateEventSourceMappingRequest that UpdateEventSourceMappingRequest lacks. An
// Update ignores them, as AWS's deserializer ignores members its model does not have (CP §8).
bool is_create_only(std::string_view member) {
  static constexpr std::array<std::string_view, 7> kCreateOnly{
      "EventSourceArn", "StartingPosition", "StartingPositionTimestamp", "Topics", "Queues",
      "SelfManagedEventSource", "Tags"};
  return std::find(kCreateOnly.begin(), kCreateOnly.end(), member) != kCreateOnly.end();
}

// Model checks of the members esmd stores without interpreting.
void check_opaque(const Value& body, Checker& ck, bool is_create) {
  if (const Value* sac = get_array(body, "SourceAccessConfigurations", ck, "SourceAccessConfigurations")) {
    if (sac->Size() > 22)
      ck.violation("[...]", "SourceAccessConfigurations", "Member must have length less than or equal to 22");
    for (const auto& e : sac->GetArray()) {
      if (!e.IsObject()) {
        ck.type_error("SourceAccessConfigurations", "a list of objects");
        break;
      }
      if (auto t = get_string(e, "Type", ck, "SourceAccessConfigurations.Type"))
        ck.one_of("SourceAccessConfigurations.member.Type", *t,
                  std::array<const char*, 8>{"BASIC_AUTH", "VPC_SUBNET", "VPC_SECURITY_GROUP", "SASL_SCRAM_512_AUTH",
                                             "SASL_SCRAM_256_AUTH", "VIRTUAL_HOST", "CLIENT_CERTIFICATE_TLS_AUTH",
                                             "SERVER_ROOT_CA_CERTIFICATE"});
      if (auto u = get_string(e, "URI", ck, "SourceAccessConfigurations.URI"))
        ck.length("SourceAccessConfigurations.member.URI", *u, 1, 200);
    }
  }
  if (auto q = is_create ? get_string_list(body, "Queues", ck, "Queues") : std::nullopt) {
    if (q->size() != 1)
      ck.violation(java_list(*q), "Queues",
                   q->empty() ? "Member must have length greater than or equal to 1"
                              : "Member must have length less than or equal to 1");
    for (const auto& s : *q) ck.length("Queues.member", s, 1, 1000);
  }
  for (const char* block : {"AmazonManagedKafkaEventSourceConfig", "SelfManagedKafkaEventSourceConfig"}) {
    if (const Value* b = get_object(body, block, ck, block)) {
      if (auto g = get_string(*b, "ConsumerGroupId", ck, std::string(block) + ".ConsumerGroupId"))
        ck.length(std::string(block) + ".ConsumerGroupId", *g, 1, 200);
      (void)get_object(*b, "SchemaRegistryConfig", ck, std::string(block) + ".SchemaRegistryConfig");
    }
  }
  if (const Value* d = get_object(body, "DocumentDBEventSourceConfig", ck, "DocumentDBEventSourceConfig")) {
    if (auto n = get_string(*d, "DatabaseName", ck, "DocumentDBEventSourceConfig.DatabaseName"))
      ck.length("DocumentDBEventSourceConfig.DatabaseName", *n, 1, 63);
    if (auto n = get_string(*d, "CollectionName", ck, "DocumentDBEventSourceConfig.CollectionName"))
      ck.length("DocumentDBEventSourceConfig.CollectionName", *n, 1, 57);
    if (auto f = get_string(*d, "FullDocument", ck, "DocumentDBEventSourceConfig.FullDocument"))
      ck.one_of("DocumentDBEventSourceConfig.FullDocument", *f, std::array<const char*, 2>{"UpdateLookup", "Default"});
  }
  if (auto k = get_string(body, "KMSKeyArn", ck, "KMSKeyArn")) {
    if (!k->empty() && !k->starts_with("arn:"))
      ck.violation(*k, "KMSKeyArn", "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()");
  }
  if (const Value* m = get_object(body, "MetricsConfig", ck, "MetricsConfig")) {
    if (auto list = get_string_list(*m, "Metrics", ck, "MetricsConfig.Metrics")) {
      if (list->size() > 3)
        ck.violation(java_list(*list), "MetricsConfig.Metrics", "Member must have length less than or equal to 3");
      for (const auto& s : *list)
        ck.one_of("MetricsConfig.Metrics.member", s, std::array<const char*, 3>{"EventCount", "ErrorCount", "KafkaMetrics"});
    }
  }
  if (const Value* l = get_object(body, "LoggingConfig", ck, "LoggingConfig")) {
    if (auto s = get_string(*l, "SystemLogLevel", ck, "LoggingConfig.SystemLogLevel"))
      ck.one_of("LoggingConfig.SystemLogLevel", *s, std::array<const char*, 3>{"DEBUG", "INFO", "WARN"});
  }
  if (const Value* p = get_object(body, "ProvisionedPollerConfig", ck, "ProvisionedPollerConfig")) {
    if (auto v = get_int(*p, "MinimumPollers", ck, "ProvisionedPollerConfig.MinimumPollers"))
      ck.range("ProvisionedPollerConfig.MinimumPollers", *v, 1, 200);
    if (auto v = get_int(*p, "MaximumPollers", ck, "ProvisionedPollerConfig.MaximumPollers"))
      ck.range("ProvisionedPollerConfig.MaximumPollers", *v, 1, 2000);
    if (auto g = get_string(*p, "PollerGroupName", ck, "ProvisionedPollerConfig.PollerGroupName"))
      ck.length("ProvisionedPollerConfig.PollerGroupName", *g, 0, 128);
  }
}

// Writes JSON straight into a string, byte for byte as rapidjson's Writer writes it (its string
// escaping, its integer and double formats), without the Writer's buffer, its stack and the
// copy out of them: a mapping is encoded on every Get, List and change. Also a rapidjson
// Handler, so that a Value's Accept writes through it (the extras).
class JsonOut {
 public:
  explicit JsonOut(std::string& out) : out_(out) {}

  bool StartObject() { return open('{'); }
  bool EndObject(rapidjson::SizeType = 0) { return close('}'); }
  bool StartArray() { return open('['); }
  bool EndArray(rapidjson::SizeType = 0) { return close(']'); }
  bool Key(std::string_view k) {
    separate();
    json_append_string(out_, k);
    out_ += ':';
    after_key_ = true;
    return true;
  }
  bool Key(const char* k, rapidjson::SizeType n, bool = false) { return Key(std::string_view(k, n)); }
  // A member name written in this file: nothing in it to escape.
  template <std::size_t N>
  bool Key(const char (&k)[N]) {
    separate();
    out_ += '"';
    out_.append(k, N - 1);
    out_ += "\":";
    after_key_ = true;
    return true;
  }
  bool String(std::string_view v) {
    separate();
    json_append_string(out_, v);
    return true;
  }
  bool String(const char* v, rapidjson::SizeType n, bool = false) { return String(std::string_view(v, n)); }
  bool Null() { return raw("null"); }
  bool Bool(bool b) { return raw(b ? "true" : "false"); }
  bool Int(int i) { return integer(i); }
  bool Uint(unsigned u) { return integer(u); }
  bool Int64(std::int64_t i) { return integer(i); }
  bool Uint64(std::uint64_t u) { return integer(u); }
  bool Double(double d) {
    // As the Writer: no NaN or infinity (JSON has none), shortest round-trip digits (Grisu2).
    if (d != d || d - d != 0) return false;
    char buf[32];
    char* end = rapidjson::internal::dtoa(d, buf, rapidjson::Writer<rapidjson::StringBuffer>::kDefaultMaxDecimalPlaces);
    return raw(std::string_view(buf, static_cast<std::size_t>(end - buf)));
  }
  // Only reached with kParseNumbersAsStringsFlag, which no caller uses; the Writer quotes it.
  bool RawNumber(const char* v, rapidjson::SizeType n, bool = false) { return String(std::string_view(v, n)); }
  bool RawValue(std::string_view v) { return raw(v); }

 private:
  // Before a key or a value: a comma unless it is the first of its object or array, and
  // nothing before a member's value.
  void separate() {
    if (after_key_) {
      after_key_ = false;
    } else if (!counts_.empty() && counts_.back()++ > 0) {
      out_ += ',';
    }
  }
  bool open(char c) {
    separate();
    out_ += c;
    counts_.push_back(0);
    return true;
  }
  bool close(char c) {
    counts_.pop_back();
    out_ += c;
    return true;
  }
  bool raw(std::string_view v) {
    separate();
    out_ += v;
    return true;
  }
  template <typename T>
  bool integer(T v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return raw(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
  }

  std::string& out_;
  std::vector<int> counts_;  // members or elements written so far, per open object or array
  bool after_key_ = false;
};

void write_string_list(JsonOut& w, const std::vector<std::string>& v) {
  w.StartArray();
  for (const auto& s : v) w.String(s);
  w.EndArray();
}

}  // namespace

std::string epoch_seconds(std::int64_t ms) {
  std::string out;
  append_epoch_seconds(out, ms);
  return out;
}

Result<MappingRequest> parse_mapping_request(const std::string& body, bool is_create) {
  Document d;
  const std::string& text = body;
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    d.SetObject();
  } else {
    // Strings are stored and echoed back; invalid UTF-8 would make every later answer invalid JSON.
    if (!json_depth_within(text))
      return invalid_parameter("Could not parse request body into json: nested deeper than " +
                               std::to_string(kMaxJsonDepth) + " levels");
    d.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
    if (d.HasParseError())
      return invalid_parameter(std::string("Could not parse request body into json: ") +
                               rapidjson::GetParseError_En(d.GetParseError()) + " (at offset " +
                               std::to_string(d.GetErrorOffset()) + ")");
    if (!d.IsObject()) return invalid_parameter("Could not parse request body into json: the body is not a JSON object");
  }
  MappingRequest r;
  Checker ck;
  for (const auto& m : d.GetObject()) {
    const std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (m.value.IsNull() || (!is_create && is_create_only(name))) continue;
    r.present.emplace(name);
  }

  r.function_name = get_string(d, "FunctionName", ck, "FunctionName");
  if (r.function_name) {
    if (r.function_name->empty() || r.function_name->size() > 256 || !parse_function_ref(*r.function_name))
      ck.violation(*r.function_name, "FunctionName",
                   std::string("Member must satisfy regular expression pattern: ") + kFunctionNamePattern);
  } else if (is_create) {
    ck.violation("", "FunctionName", "Member must not be null", true);
  }
  if (is_create) {
    r.event_source_arn = get_string(d, "EventSourceArn", ck, "EventSourceArn");
    if (r.event_source_arn && !parse_arn(*r.event_source_arn))
      ck.violation(*r.event_source_arn, "EventSourceArn",
                   std::string("Member must satisfy regular expression pattern: ") + kEventSourceArnPattern);
    r.starting_position = get_string(d, "StartingPosition", ck, "StartingPosition");
    if (r.starting_position)
      ck.one_of("StartingPosition", *r.starting_position,
                std::array<const char*, 3>{"LATEST", "AT_TIMESTAMP", "TRIM_HORIZON"});
    if (auto it = d.FindMember("StartingPositionTimestamp"); it != d.MemberEnd() && !it->value.IsNull()) {
      if (it->value.IsNumber())
        r.starting_position_ts = it->value.GetDouble();
      else
        ck.type_error("StartingPositionTimestamp", "a timestamp in epoch seconds");
    }
    r.topics = get_string_list(d, "Topics", ck, "Topics");
    if (r.topics) {
      if (r.topics->size() != 1)
        ck.violation(java_list(*r.topics), "Topics",
                     r.topics->empty() ? "Member must have length greater than or equal to 1"
                                       : "Member must have length less than or equal to 1");
      for (const auto& t : *r.topics) ck.length("Topics.member", t, 1, 249);
    }
    if (const Value* sm = get_object(d, "SelfManagedEventSource", ck, "SelfManagedEventSource")) {
      if (const Value* ep = get_object(*sm, "Endpoints", ck, "SelfManagedEventSource.Endpoints")) {
        std::vector<std::string> servers;
        for (const auto& e : ep->GetObject()) {
          const std::string key(e.name.GetString(), e.name.GetStringLength());
          if (key != "KAFKA_BOOTSTRAP_SERVERS") {
            ck.one_of("SelfManagedEventSource.Endpoints", key, std::array<const char*, 1>{"KAFKA_BOOTSTRAP_SERVERS"});
            continue;
          }
          if (!e.value.IsArray()) {
            ck.type_error("SelfManagedEventSource.Endpoints", "a list of strings");
            continue;
          }
          for (const auto& s : e.value.GetArray()) {
            if (!s.IsString()) {
              ck.type_error("SelfManagedEventSource.Endpoints", "a list of strings");
              break;
            }
            servers.emplace_back(s.GetString(), s.GetStringLength());
          }
          // The map key is an enum value, not a member name, so it keeps its spelling.
          const std::string path = lower_camel("SelfManagedEventSource.Endpoints") + ".KAFKA_BOOTSTRAP_SERVERS";
          if (servers.empty() || servers.size() > 10)
            ck.violation(java_list(servers), path,
                         servers.empty() ? "Member must have length greater than or equal to 1"
                                         : "Member must have length less than or equal to 10",
                         false, false);
          for (const auto& server : servers) {
            if (server.empty() || server.size() > 300)
              ck.violation(server, path + ".member",
                           server.empty() ? "Member must have length greater than or equal to 1"
                                          : "Member must have length less than or equal to 300",
                           false, false);
            else if (!is_bootstrap_server(server))
              ck.violation(server, path + ".member",
                           std::string("Member must satisfy regular expression pattern: ") + kBootstrapServerPattern,
                           false, false);
          }
        }
        // An empty Endpoints map would create a Kafka mapping with no broker at all.
        if (ep->MemberCount() == 0)
          ck.violation("{}", "SelfManagedEventSource.Endpoints", "Member must have length greater than or equal to 1");
        r.bootstrap_servers = std::move(servers);
      }
    }
    if (const Value* tags = get_object(d, "Tags", ck, "Tags")) {
      std::map<std::string, std::string> out;
      for (const auto& t : tags->GetObject()) {
        if (!t.value.IsString()) {
          ck.type_error("Tags", "a map of strings");
          break;
        }
        out.emplace(std::string(t.name.GetString(), t.name.GetStringLength()),
                    std::string(t.value.GetString(), t.value.GetStringLength()));
      }
      r.tags = std::move(out);
    }
  }
  r.enabled = get_bool(d, "Enabled", ck);
  r.batch_size = get_ranged(d, "BatchSize", ck, 1, 10000);
  r.batching_window_s = get_ranged(d, "MaximumBatchingWindowInSeconds", ck, 0, 300);
  r.parallelization_factor = get_ranged(d, "ParallelizationFactor", ck, 1, 10);
  r.maximum_retry_attempts = get_ranged(d, "MaximumRetryAttempts", ck, -1, 10000);
  r.maximum_record_age_s = get_ranged(d, "MaximumRecordAgeInSeconds", ck, -1, 604800);
  r.bisect_on_error = get_bool(d, "BisectBatchOnFunctionError", ck);
  r.tumbling_window_s = get_ranged(d, "TumblingWindowInSeconds", ck, 0, 900);

  if (const Value* fc = get_object(d, "FilterCriteria", ck, "FilterCriteria")) {
    std::vector<std::string> patterns;
    if (const Value* filters = get_array(*fc, "Filters", ck, "FilterCriteria.Filters")) {
      for (const auto& f : filters->GetArray()) {
        if (!f.IsObject()) {
          ck.type_error("FilterCriteria.Filters", "a list of objects");
          break;
        }
        auto p = get_string(f, "Pattern", ck, "FilterCriteria.Filters.Pattern");
        if (p) {
          // Over 4096 characters is refused with the filter error, by EventFilter::compile
          // (filtering.md §9.2).
          patterns.push_back(*p);
        } else {
          patterns.emplace_back();  // a filter without a pattern is invalid (checked later)
        }
      }
    }
    r.filter_patterns = std::move(patterns);
  }
  if (auto types = get_string_list(d, "FunctionResponseTypes", ck, "FunctionResponseTypes")) {
    if (types->size() > 1)
      ck.violation(java_list(*types), "FunctionResponseTypes", "Member must have length less than or equal to 1");
    for (const auto& t : *types) {
      if (t != "ReportBatchItemFailures") {
        ck.violation(java_list(*types), "FunctionResponseTypes",
                     "Member must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]");
        break;
      }
    }
    r.response_types = std::move(types);
  }
  if (const Value* sc = get_object(d, "ScalingConfig", ck, "ScalingConfig")) {
    r.scaling_config_sent = true;
    if (auto v = get_int(*sc, "MaximumConcurrency", ck, "ScalingConfig.MaximumConcurrency")) {
      ck.range("ScalingConfig.MaximumConcurrency", *v, 2, 1000);
      r.maximum_concurrency = static_cast<int>(*v);
    }
  }
  if (const Value* dc = get_object(d, "DestinationConfig", ck, "DestinationConfig")) {
    Destinations dest;
    for (const char* which : {"OnSuccess", "OnFailure"}) {
      if (const Value* o = get_object(*dc, which, ck, std::string("DestinationConfig.") + which)) {
        auto dst = get_string(*o, "Destination", ck, std::string("DestinationConfig.") + which + ".Destination");
        std::string value = dst.value_or("");
        if (dst) ck.length(std::string("DestinationConfig.") + which + ".Destination", *dst, 0, 350);
        if (!value.empty() && !value.starts_with("arn:") && !value.starts_with("kafka://"))
          ck.violation(value, std::string("DestinationConfig.") + which + ".Destination",
                       "Member must satisfy regular expression pattern: "
                       "$|kafka://([^.]([a-zA-Z0-9\\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:"
                       "([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)");
        (std::string_view(which) == "OnSuccess" ? dest.on_success : dest.on_failure) = value;
      }
    }
    r.destinations = dest;
  }
  check_opaque(d, ck, is_create);
  if (Status s = ck.status(); !s.is_ok()) return s;

  // Opaque members, kept as sent.
  Document extras(rapidjson::kObjectType);
  auto& alloc = extras.GetAllocator();
  for (const char* name : kOpaqueMembers) {
    if (std::string_view(name) == "FilterCriteriaError" || (!is_create && is_create_only(name))) continue;
    auto it = d.FindMember(name);
    if (it == d.MemberEnd() || it->value.IsNull()) continue;
    Value copy(it->value, alloc);
    extras.AddMember(Value(name, alloc), copy, alloc);
    if (std::string_view(name).ends_with("KafkaEventSourceConfig") && it->value.IsObject() &&
        it->value.HasMember("ConsumerGroupId"))
      r.consumer_group_block = name;
  }
  r.extras_json = to_json(extras);
  return r;
}

void apply_common(Mapping& m, const MappingRequest& r) {
  if (r.batch_size) m.batch_size = *r.batch_size;
  if (r.batching_window_s) m.batching_window_s = r.batching_window_s;
  if (r.parallelization_factor) m.parallelization_factor = r.parallelization_factor;
  if (r.maximum_retry_attempts) m.maximum_retry_attempts = r.maximum_retry_attempts;
  if (r.maximum_record_age_s) m.maximum_record_age_s = r.maximum_record_age_s;
  if (r.bisect_on_error) m.bisect_on_error = r.bisect_on_error;
  if (r.tumbling_window_s) m.tumbling_window_s = r.tumbling_window_s;
  if (r.filter_patterns) m.filter_patterns = *r.filter_patterns;
  if (r.response_types) m.report_batch_item_failures = !r.response_types->empty();
  if (r.scaling_config_sent) m.maximum_concurrency = r.maximum_concurrency;
  if (r.destinations) {
    Destinations d = *r.destinations;
    // An empty destination clears it.
    if (d.on_failure && d.on_failure->empty()) d.on_failure.reset();
    if (d.on_success && d.on_success->empty()) d.on_success.reset();
    m.destinations = d;
  }
  m.extras_json = merge_extras(m.extras_json, r.extras_json);
}

std::string merge_extras(const std::string& base, const std::string& patch) {
  Document b, p;
  b.Parse(base.c_str());
  p.Parse(patch.c_str());
  if (b.HasParseError() || !b.IsObject()) b.SetObject();
  if (p.HasParseError() || !p.IsObject()) return to_json(b);
  auto& alloc = b.GetAllocator();
  for (auto& m : p.GetObject()) {
    const std::string name(m.name.GetString(), m.name.GetStringLength());
    auto it = b.FindMember(name.c_str());
    // KMSKeyArn "" is how clients (Terraform) remove the key: filters go back to unencrypted and
    // the member is omitted, as every unset optional member is.
    if (name == "KMSKeyArn" && m.value.IsString() && m.value.GetStringLength() == 0) {
      if (it != b.MemberEnd()) b.RemoveMember(it);
      continue;
    }
    const bool kafka_block = name.ends_with("KafkaEventSourceConfig");
    if (kafka_block && it != b.MemberEnd() && it->value.IsObject() && m.value.IsObject()) {
      for (auto& inner : m.value.GetObject()) {
        auto jt = it->value.FindMember(inner.name);
        Value copy(inner.value, alloc);
        if (jt != it->value.MemberEnd())
          jt->value = copy;
        else
          it->value.AddMember(Value(inner.name, alloc), copy, alloc);
      }
      continue;
    }
    Value copy(m.value, alloc);
    if (it != b.MemberEnd())
      it->value = copy;
    else
      b.AddMember(Value(name.c_str(), alloc), copy, alloc);
  }
  return to_json(b);
}

std::string with_default_consumer_group(const std::string& extras, const std::string& block, const std::string& id) {
  Document d;
  d.Parse(extras.c_str());
  if (d.HasParseError() || !d.IsObject()) d.SetObject();
  auto& alloc = d.GetAllocator();
  auto it = d.FindMember(block.c_str());
  if (it == d.MemberEnd()) {
    d.AddMember(Value(block.c_str(), alloc), Value(rapidjson::kObjectType), alloc);
    it = d.FindMember(block.c_str());
  }
  if (!it->value.IsObject()) it->value.SetObject();
  if (!it->value.HasMember("ConsumerGroupId"))
    it->value.AddMember("ConsumerGroupId", Value(id.c_str(), alloc), alloc);
  return to_json(d);
}

std::string consumer_group_of(const std::string& extras, const std::string& block) {
  Document d;
  d.Parse(extras.c_str());
  if (d.HasParseError() || !d.IsObject()) return {};
  auto it = d.FindMember(block.c_str());
  if (it == d.MemberEnd() || !it->value.IsObject()) return {};
  auto g = it->value.FindMember("ConsumerGroupId");
  if (g == it->value.MemberEnd() || !g->value.IsString()) return {};
  return g->value.GetString();
}

bool extras_has(const std::string& extras, const std::string& member) {
  Document d;
  d.Parse(extras.c_str());
  return !d.HasParseError() && d.IsObject() && d.HasMember(member.c_str());
}

Status check_poller_bounds(const std::string& extras, SourceKind kind) {
  Document d;
  d.Parse(extras.c_str());
  if (d.HasParseError() || !d.IsObject()) return Status::ok();
  auto it = d.FindMember("ProvisionedPollerConfig");
  if (it == d.MemberEnd() || !it->value.IsObject()) return Status::ok();
  const Value& config = it->value;
  auto member = [&](const char* name) -> std::optional<std::int64_t> {
    auto m = config.FindMember(name);
    if (m == config.MemberEnd() || !m->value.IsInt64()) return std::nullopt;
    return m->value.GetInt64();
  };
  // The model allows 1..200 and 1..2000 for every source; the service asks SQS for at least two
  // pollers each way and defaults its minimum to 2, Kafka's to 1 (botocore 1.43 docs).
  const bool sqs = kind == SourceKind::kSqs;
  const std::int64_t least = sqs ? 2 : 1;
  const auto min = member("MinimumPollers");
  const auto max = member("MaximumPollers");
  for (const auto& [value, path] : {std::pair{min, "provisionedPollerConfig.minimumPollers"},
                                    std::pair{max, "provisionedPollerConfig.maximumPollers"}}) {
    if (value && *value < least)
      return invalid_parameter(validation_message(std::to_string(*value), path,
                                                  "Member must have value greater than or equal to " +
                                                      std::to_string(least)));
  }
  if (sqs && config.HasMember("PollerGroupName"))
    return invalid_parameter("Unsupported PollerGroupName parameter for given event source mapping type.");
  if (min.value_or(least) > max.value_or(200))
    return invalid_parameter("The minimum number of pollers (MinimumPollers) must be less than or equal to "
                             "the maximum number of pollers (MaximumPollers).");
  return Status::ok();
}

void encode_mapping_into(std::string& out, const Mapping& m, bool in_list) {
  out.reserve(out.size() + 1024);
  JsonOut w(out);
  w.StartObject();
  w.Key("UUID");
  w.String(m.uuid);
  if (m.starting_position) {
    w.Key("StartingPosition");
    w.String(*m.starting_position);
  }
  if (m.starting_position_ts) {
    w.Key("StartingPositionTimestamp");
    w.Double(*m.starting_position_ts);
  }
  w.Key("BatchSize");
  w.Int(m.batch_size);
  if (m.batching_window_s) {
    w.Key("MaximumBatchingWindowInSeconds");
    w.Int(*m.batching_window_s);
  }
  if (m.parallelization_factor) {
    w.Key("ParallelizationFactor");
    w.Int(*m.parallelization_factor);
  }
  if (!m.event_source_arn.empty()) {
    w.Key("EventSourceArn");
    w.String(m.event_source_arn);
  }
  const bool has_kms = extras_has(m.extras_json, "KMSKeyArn");
  if (!m.filter_patterns.empty() && !(in_list && has_kms)) {
    w.Key("FilterCriteria");
    w.StartObject();
    w.Key("Filters");
    w.StartArray();
    for (const auto& p : m.filter_patterns) {
      w.StartObject();
      w.Key("Pattern");
      w.String(p);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.Key("FunctionArn");
  w.String(m.function_arn);
  w.Key("LastModified");
  w.RawValue(epoch_seconds(m.last_modified_ms));
  if (m.last_processing_result) {
    w.Key("LastProcessingResult");
    w.String(*m.last_processing_result);
  }
  w.Key("State");
  w.String(to_string(m.state));
  w.Key("StateTransitionReason");
  w.String(m.state_reason);
  if (m.destinations) {
    w.Key("DestinationConfig");
    w.StartObject();
    if (m.destinations->on_success) {
      w.Key("OnSuccess");
      w.StartObject();
      if (!m.destinations->on_success->empty()) {
        w.Key("Destination");
        w.String(*m.destinations->on_success);
      }
      w.EndObject();
    }
    w.Key("OnFailure");
    w.StartObject();
    if (m.destinations->on_failure && !m.destinations->on_failure->empty()) {
      w.Key("Destination");
      w.String(*m.destinations->on_failure);
    }
    w.EndObject();
    w.EndObject();
  }
  if (!m.topics.empty()) {
    w.Key("Topics");
    write_string_list(w, m.topics);
  }
  if (m.kind == SourceKind::kSelfManagedKafka) {
    w.Key("SelfManagedEventSource");
    w.StartObject();
    w.Key("Endpoints");
    w.StartObject();
    w.Key("KAFKA_BOOTSTRAP_SERVERS");
    write_string_list(w, m.bootstrap_servers);
    w.EndObject();
    w.EndObject();
  }
  if (m.maximum_record_age_s) {
    w.Key("MaximumRecordAgeInSeconds");
    w.Int(*m.maximum_record_age_s);
  }
  if (m.bisect_on_error) {
    w.Key("BisectBatchOnFunctionError");
    w.Bool(*m.bisect_on_error);
  }
  if (m.maximum_retry_attempts) {
    w.Key("MaximumRetryAttempts");
    w.Int(*m.maximum_retry_attempts);
  }
  if (m.tumbling_window_s) {
    w.Key("TumblingWindowInSeconds");
    w.Int(*m.tumbling_window_s);
  }
  if (m.report_batch_item_failures) {
    w.Key("FunctionResponseTypes");
    w.StartArray();
    if (*m.report_batch_item_failures) w.String("ReportBatchItemFailures");
    w.EndArray();
  }
  if (m.maximum_concurrency) {
    w.Key("ScalingConfig");
    w.StartObject();
    w.Key("MaximumConcurrency");
    w.Int(*m.maximum_concurrency);
    w.EndObject();
  }
  w.Key("EventSourceMappingArn");
  w.String(mapping_arn_of(m));
  if (m.extras_json.size() > 2) {  // not "{}" or empty
    Document extras;
    extras.Parse(m.extras_json.c_str());
    if (!extras.HasParseError() && extras.IsObject()) {
      for (const auto& e : extras.GetObject()) {
        w.Key(e.name.GetString(), e.name.GetStringLength());
        e.value.Accept(w);
      }
    }
  }
  w.EndObject();
}

std::string encode_mapping(const Mapping& m, bool in_list) {
  std::string out;
  encode_mapping_into(out, m, in_list);
  return out;
}

}  // namespace esm::api
