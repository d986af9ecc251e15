#include "api/lambda_api.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>

#include "api/errors.h"
#include "core/arn.h"
#include "core/json_depth.h"
#include "core/state_machine.h"
#include "core/uuid.h"
#include "pollers/filter.h"
#include "storage/mapping_store.h"

namespace esm::api {
namespace {

// How soon the tick looks again at transitions it could not read.
constexpr std::int64_t kTickRetryMs = 200;

constexpr std::string_view kMappingsPath = "/2015-03-31/event-source-mappings";
constexpr std::string_view kTagsPath = "/2017-03-31/tags/";
constexpr std::string_view kFunctionsPath = "/2015-03-31/functions";
constexpr const char* kNotFound = "The resource you requested does not exist.";

// The mapping store's NotFound names the uuid; Lambda answers every unknown mapping with kNotFound.
Response mapping_error(const Status& s) { return lambda_error(s.code() == Code::kNotFound ? not_found(kNotFound) : s); }
constexpr const char* kTaggableArnPattern =
    "arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:(function:[a-zA-Z0-9-_]+"
    "(:(\\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:"
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)";

Response json_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response empty_response(int status) {
  Response r;
  r.status = status;
  r.content_type.clear();
  return r;
}

Response pattern_violation(const std::string& value, const char* member, const char* pattern) {
  return lambda_error(validation_error(
      validation_message(value, member, std::string("Member must satisfy regular expression pattern: ") + pattern)));
}

std::string unsupported(std::string_view member) {
  return "Unsupported " + std::string(member) + " parameter for given event source mapping type.";
}

// Lambda's limit of tags on one resource, those it already has included.
constexpr std::size_t kMaxTags = 50;

// AWS reserves the `aws:` prefix, in any case, for its own tags. The text is esmd's: Lambda's
// is not recorded.
Status check_tag_keys(const storage::Tags& tags) {
  for (const auto& [key, value] : tags) {
    if (key.size() >= 4 && std::equal(key.begin(), key.begin() + 4, "aws:", [](char a, char b) {
          return static_cast<char>(a >= 'A' && a <= 'Z' ? a - 'A' + 'a' : a) == b;
        }))
      return invalid_parameter("Tag keys starting with 'aws:' are reserved for internal use.");
  }
  return Status::ok();
}

// Recorded for TagResource, both at once and one more on top of fifty (LS-API test_tag_limits).
Status check_tag_count(const storage::Tags& held, const storage::Tags& added) {
  std::size_t total = held.size();
  for (const auto& [key, value] : added) total += held.contains(key) ? 0 : 1;
  if (total > kMaxTags) return invalid_parameter("Number of tags exceeds resource tag limit.");
  return Status::ok();
}

// Members that a source kind refuses, in the order esmd checks them.
constexpr std::array<std::string_view, 16> kCheckedMembers{
    "DestinationConfig", "ParallelizationFactor", "BisectBatchOnFunctionError", "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds", "TumblingWindowInSeconds", "ScalingConfig", "FunctionResponseTypes",
    "SourceAccessConfigurations", "Topics", "Queues", "SelfManagedKafkaEventSourceConfig",
    "AmazonManagedKafkaEventSourceConfig", "DocumentDBEventSourceConfig", "SelfManagedEventSource",
    "ProvisionedPollerConfig"};

bool allowed(SourceKind k, std::string_view member) {
  auto in = [&](std::initializer_list<std::string_view> l) { return std::find(l.begin(), l.end(), member) != l.end(); };
  switch (k) {
    case SourceKind::kSqs:
      return in({"ScalingConfig", "FunctionResponseTypes", "ProvisionedPollerConfig"});
    case SourceKind::kKinesis:
    case SourceKind::kDynamoDb:
      return in({"DestinationConfig", "ParallelizationFactor", "BisectBatchOnFunctionError", "MaximumRetryAttempts",
                 "MaximumRecordAgeInSeconds", "TumblingWindowInSeconds", "FunctionResponseTypes"});
    case SourceKind::kMsk:
      return in({"DestinationConfig", "BisectBatchOnFunctionError", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
                 "FunctionResponseTypes", "SourceAccessConfigurations", "Topics", "AmazonManagedKafkaEventSourceConfig",
                 "ProvisionedPollerConfig"});
    case SourceKind::kSelfManagedKafka:
      return in({"DestinationConfig", "BisectBatchOnFunctionError", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
                 "FunctionResponseTypes", "SourceAccessConfigurations", "Topics", "SelfManagedKafkaEventSourceConfig",
                 "SelfManagedEventSource", "ProvisionedPollerConfig"});
    case SourceKind::kMq:
      return in({"SourceAccessConfigurations", "Queues"});
    case SourceKind::kDocumentDb:
      return in({"SourceAccessConfigurations", "DocumentDBEventSourceConfig"});
  }
  return false;
}

std::string state_reason_for(SourceKind k) { return is_stream(k) ? "User action" : "USER_INITIATED"; }

std::string function_name_of_arn(const std::string& function_arn) {
  auto ref = parse_function_ref(function_arn);
  return ref ? ref->name : function_arn;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Markers are opaque to clients: the base-16 creation sequence of the last item returned,
// behind a fixed prefix so that garbage is told apart from a stale marker.
std::string encode_marker(std::int64_t seq) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, seq, 16);
  (void)ec;
  return "esm1." + std::string(buf, p);
}

std::optional<std::int64_t> decode_marker(std::string_view m) {
  if (!m.starts_with("esm1.")) return std::nullopt;
  m.remove_prefix(5);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(m.data(), m.data() + m.size(), v, 16);
  if (ec != std::errc() || p != m.data() + m.size() || v < 0) return std::nullopt;
  return v;
}

Result<std::optional<Mapping>> duplicate_of(storage::Connection& c, const Mapping& m) {
  if (m.kind == SourceKind::kSelfManagedKafka) {
    storage::MappingQuery q;
    q.region = m.region;
    q.function_arn = m.function_arn;
    q.limit = 1 << 30;
    auto others = storage::list_mappings(c, q);
    if (!others) return others.status();
    for (auto& other : *others) {
      if (other.kind != m.kind || other.topics != m.topics) continue;
      for (const auto& s : m.bootstrap_servers)
        if (std::find(other.bootstrap_servers.begin(), other.bootstrap_servers.end(), s) !=
            other.bootstrap_servers.end())
          return std::optional<Mapping>(other);
    }
    return std::optional<Mapping>();
  }
  auto others = storage::mappings_for_source(c, m.event_source_arn);
  if (!others) return others.status();
  for (auto& other : *others) {
    if (other.region != m.region || other.function_arn != m.function_arn) continue;
    if (is_kafka(m.kind) && other.topics != m.topics) continue;
    return std::optional<Mapping>(other);
  }
  return std::optional<Mapping>();
}

std::string duplicate_message(const Mapping& m, const Mapping& existing, const std::vector<std::string>& servers_sent) {
  switch (m.kind) {
    case SourceKind::kSqs:
      return "An event source mapping with SQS arn (\" " + m.event_source_arn + " \") and function (\" " +
             function_name_of_arn(m.function_arn) +
             " \") already exists. Please update or delete the existing mapping with UUID " + existing.uuid;
    case SourceKind::kSelfManagedKafka:
    case SourceKind::kMsk:
      return "An event source mapping with event source (\"" +
             (m.kind == SourceKind::kMsk ? m.event_source_arn : join(servers_sent, ",")) + "\"), function (\"" +
             m.function_arn + "\"), topics (\"" + join(m.topics, ",") +
             "\") already exists. Please update or delete the existing mapping with UUID " + existing.uuid;
    default:
      return "The event source arn (\" " + m.event_source_arn + " \") and function (\" " +
             function_name_of_arn(m.function_arn) +
             " \") provided mapping already exists. Please update or delete the existing mapping with UUID " +
             existing.uuid;
  }
}

}  // namespace

std::optional<SourceKind> classify_source(const std::string& arn_text) {
  auto arn = parse_arn(arn_text);
  if (!arn) return std::nullopt;
  const std::string& svc = arn->service;
  if (svc == "sqs" && !arn->resource.empty()) return SourceKind::kSqs;
  if (svc == "kinesis" && arn->resource.starts_with("stream/")) return SourceKind::kKinesis;
  if (svc == "dynamodb" && arn->resource.find("/stream/") != std::string::npos) return SourceKind::kDynamoDb;
  if (svc == "kafka" && arn->resource.starts_with("cluster/")) return SourceKind::kMsk;
  if (svc == "mq" && arn->resource.starts_with("broker:")) return SourceKind::kMq;
  if (svc == "rds" && arn->resource.starts_with("cluster:")) return SourceKind::kDocumentDb;
  return std::nullopt;
}

bool is_valid_filter_pattern(const std::string& pattern) { return pollers::EventFilter::compile({pattern}).is_ok(); }

Status check_source_rules(const Mapping& m, const MappingRequest& r, bool is_create) {
  for (std::string_view member : kCheckedMembers) {
    if (!r.present.contains(std::string(member))) continue;
    if (!allowed(m.kind, member)) return invalid_parameter(unsupported(member));
  }
  if (r.destinations && r.destinations->on_success) return invalid_parameter(unsupported("DestinationConfig"));
  if (is_create) {
    if (m.kind == SourceKind::kSqs && r.starting_position)
      return invalid_parameter("StartingPosition is not valid for SQS event sources.");
    if ((m.kind == SourceKind::kMq) && r.starting_position) return invalid_parameter(unsupported("StartingPosition"));
    if (is_stream(m.kind) && !r.starting_position)
      // Lambda words this one with a closing period, unlike the model layer's own messages.
      return invalid_parameter(validation_message("", "startingPosition", "Member must not be null.", true));
    if (m.kind == SourceKind::kDynamoDb && r.starting_position == "AT_TIMESTAMP")
      return invalid_parameter("Unsupported starting position for arn type: " + m.event_source_arn);
    if (r.starting_position == "AT_TIMESTAMP" && !r.starting_position_ts)
      return invalid_parameter("Need to specify a timestamp");
    // Recorded for Kinesis and DynamoDB (kafka.md B.1); esmd words every source alike.
    if (r.starting_position_ts && r.starting_position != "AT_TIMESTAMP")
      return invalid_parameter("Timestamp only valid with StartingPosition AT_TIMESTAMP");
  }
  if (m.kind == SourceKind::kSqs) {
    const int window = m.batching_window_s.value_or(0);
    if (m.fifo) {
      if (window > 0) return invalid_parameter("Batching window is not supported for FIFO queues");
      if (m.batch_size > 10) return invalid_parameter("Maximum batch size must be between 1 and 10 inclusive");
    } else if (m.batch_size > 10 && window == 0) {
      return invalid_parameter(
          "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10");
    }
  }
  if (m.maximum_record_age_s && *m.maximum_record_age_s >= 0 && *m.maximum_record_age_s < 60)
    return invalid_parameter(
        "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)");
  if (is_create && m.kind == SourceKind::kSelfManagedKafka && !r.present.contains("SourceAccessConfigurations"))
    return invalid_parameter("Required 'sourceAccessConfigurations' parameter is missing.");
  if (is_create && is_kafka(m.kind) && m.topics.empty())
    return invalid_parameter("Required 'topics' parameter is missing.");
  // A kafka://<topic> destination is a topic of the mapping's own cluster, never the one it
  // reads (kafka.md B.5; AWS's wording is unrecorded).
  if (m.destinations && m.destinations->on_failure && m.destinations->on_failure->starts_with("kafka://")) {
    if (!is_kafka(m.kind))
      return invalid_parameter("A kafka:// on-failure destination is valid only for Kafka event sources.");
    if (!m.topics.empty() && m.destinations->on_failure->substr(8) == m.topics.front())
      return invalid_parameter("The on-failure destination topic must not be the event source mapping's topic.");
  }
  // The compiler the pollers match with is the validator, so the two can never disagree.
  if (auto filter = pollers::EventFilter::compile(m.filter_patterns); !filter) return filter.status();
  if (!is_create && r.consumer_group_block)
    return invalid_parameter("Unsupported '" + *r.consumer_group_block +
                             ".consumerGroupId' parameter for given event source mapping type");
  return check_poller_bounds(m.extras_json, m.kind);
}

LambdaApi::LambdaApi(storage::DbWorker& db, FunctionRegistry& functions, const Clock& clock, LambdaOptions options)
    : db_(db), functions_(functions), clock_(clock), options_(std::move(options)) {
  // Every writer of the mappings table goes through this connection, so its watch sees them all.
  Status watched = db_.run_sync([this](storage::Connection& c) {
    c.watch_table("mappings", get_cache_.version());
    return Status::ok();
  });
  if (!watched.is_ok()) throw std::runtime_error("cannot watch the mappings table: " + watched.message());
}

namespace {
// The path as sent, still percent-encoded. Routes match it, and a segment is decoded only once
// it is cut out, so that an encoded `/` (%2F) stays inside its segment.
std::string_view raw_path(const Request& req) {
  const std::string_view target = req.target;
  return target.substr(0, target.find('?'));
}

// The one segment after a collection path ("/uuid" or "/uuid/"), decoded; nullopt when the rest
// has more segments. `abc%2Fdef` names a mapping that does not exist (AWS's 404), not a route.
std::optional<std::string> single_segment(std::string_view rest) {
  if (rest.size() < 2 || rest.front() != '/') return std::nullopt;
  rest.remove_prefix(1);
  if (rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return std::nullopt;
  return percent_decode(rest, false);
}
}  // namespace

bool LambdaApi::matches(const Request& req) {
  const std::string_view path = raw_path(req);
  return path.starts_with(kMappingsPath) || path.starts_with(kTagsPath) || path.starts_with(kFunctionsPath);
}

void LambdaApi::handle(Request req, Reply reply) {
  const std::string_view path = raw_path(req);
  const std::string& method = req.method;
  auto unknown = [&] {
    reply(lambda_error({Code::kUnknownOperation, "Unknown operation: " + method + " " + req.path}));
  };
  if (path.starts_with(kMappingsPath)) {
    std::string_view rest = path.substr(kMappingsPath.size());
    if (rest.empty() || rest == "/") {
      if (method == "POST") return create(req, std::move(reply));
      if (method == "GET") return list(req, std::move(reply));
      return unknown();
    }
    auto uuid = single_segment(rest);
    if (!uuid) return unknown();
    if (method == "GET") return get(*uuid, req, std::move(reply));
    if (method == "PUT") return update(*uuid, req, std::move(reply));
    if (method == "DELETE") return remove(*uuid, req, std::move(reply));
    return unknown();
  }
  if (path.starts_with(kTagsPath))
    return tags(percent_decode(path.substr(kTagsPath.size()), false), req, std::move(reply));
  if (path.starts_with(kFunctionsPath)) {
    std::string_view rest = path.substr(kFunctionsPath.size());
    if ((rest.empty() || rest == "/") && method == "GET") return list_functions(req, std::move(reply));
    if (auto name = single_segment(rest); name && method == "GET") return get_function(*name, req, std::move(reply));
    return unknown();
  }
  unknown();
}

void LambdaApi::run_job(Reply reply, std::function<Response(storage::Connection&)> fn) {
  auto refused = [reply](const Status& s) { reply(lambda_error(s)); };
  db_.submit([reply = std::move(reply), fn = std::move(fn)](storage::Connection& c) mutable -> storage::DbWorker::Done {
    auto resp = std::make_shared<Response>();
    try {
      *resp = fn(c);
    } catch (const std::exception& e) {
      spdlog::error("request failed: {}", e.what());
      *resp = lambda_error(internal_error("Internal error: " + std::string(e.what())));
    }
    return [reply = std::move(reply), resp](const Status& commit) {
      if (!commit.is_ok()) {
        reply(lambda_error(internal_error("The change could not be saved: " + commit.message())));
        return;
      }
      reply(std::move(*resp));
    };
  }, std::move(refused));
}

void LambdaApi::notify(const Mapping& m, bool removed) {
  // The pollers hear of a change only once it is committed: a rolled-back Create must not
  // start a poller, nor a rolled-back Delete stop one.
  if (!observer_) return;
  db_.defer([observer = observer_, m, removed](const Status& commit) {
    if (commit.is_ok()) observer(m, removed);
  });
}

Result<std::string> LambdaApi::resolve_function(const std::string& function_name, const std::string& region) const {
  auto ref = parse_function_ref(function_name);
  if (!ref) return invalid_parameter("Function does not exist");
  if ((!ref->region.empty() && ref->region != region) || (!ref->account.empty() && ref->account != options_.account))
    return invalid_parameter("Function does not exist");
  if (!functions_.exists(ref->name)) return invalid_parameter("Function does not exist");
  return function_arn(region, options_.account, ref->name, ref->qualifier);
}

void LambdaApi::create(Request& req, Reply reply) {
  auto parsed = parse_mapping_request(req.body, true);
  if (!parsed) return reply(lambda_error(parsed.status()));
  MappingRequest r = std::move(parsed).value();
  if (r.tags) {
    if (Status s = check_tag_keys(*r.tags); !s.is_ok()) return reply(lambda_error(s));
    if (Status s = check_tag_count({}, *r.tags); !s.is_ok()) return reply(lambda_error(s));
  }

  Mapping m;
  m.uuid = new_uuid();
  m.region = req.region;
  m.account = options_.account;
  if (r.event_source_arn) {
    auto kind = classify_source(*r.event_source_arn);
    if (!kind) return reply(lambda_error(invalid_parameter("Unrecognized event source.")));
    m.kind = *kind;
    m.event_source_arn = *r.event_source_arn;
    // A mapping polls its source from the function's region, so Lambda refuses a source in
    // another one (the text recorded in 2016, through CloudFormation).
    if (parse_arn(m.event_source_arn)->region != req.region)
      return reply(lambda_error(invalid_parameter("Event source region must match Lambda region " + req.region + ".")));
    if (m.kind == SourceKind::kSqs) m.fifo = m.event_source_arn.ends_with(".fifo");
  } else if (r.bootstrap_servers) {
    m.kind = SourceKind::kSelfManagedKafka;
    m.bootstrap_servers = *r.bootstrap_servers;
    std::sort(m.bootstrap_servers.begin(), m.bootstrap_servers.end());
  } else {
    return reply(lambda_error(invalid_parameter("Unrecognized event source.")));
  }

  // Defaults per source kind (CP §6).
  m.state_reason = state_reason_for(m.kind);
  m.batch_size = m.kind == SourceKind::kSqs ? 10 : 100;
  if (m.kind == SourceKind::kSqs) {
    m.batching_window_s = 0;
    m.report_batch_item_failures = false;
  } else if (is_stream(m.kind)) {
    m.batching_window_s = 0;
    m.parallelization_factor = 1;
    m.maximum_retry_attempts = -1;
    m.maximum_record_age_s = -1;
    m.bisect_on_error = false;
    m.tumbling_window_s = 0;
    m.destinations = Destinations{};
    m.report_batch_item_failures = false;
    m.last_processing_result = "No records processed";
  } else {
    m.last_processing_result = "No records processed";
  }
  m.starting_position = r.starting_position;
  m.starting_position_ts = r.starting_position_ts;
  if (is_kafka(m.kind) && !m.starting_position) m.starting_position = "TRIM_HORIZON";
  if (r.topics) m.topics = *r.topics;
  apply_common(m, r);
  if (r.present.contains("SelfManagedEventSource") && m.kind != SourceKind::kSelfManagedKafka)
    return reply(lambda_error(invalid_parameter(unsupported("SelfManagedEventSource"))));
  if (Status s = check_source_rules(m, r, true); !s.is_ok()) return reply(lambda_error(s));
  // The API reference: "StartingPositionTimestamp cannot be in the future". The text is esmd's.
  if (m.starting_position_ts && *m.starting_position_ts * 1000.0 > static_cast<double>(clock_.now_ms()))
    return reply(lambda_error(invalid_parameter("StartingPositionTimestamp cannot be in the future.")));
  if (m.kind == SourceKind::kSelfManagedKafka)
    m.extras_json = with_default_consumer_group(m.extras_json, "SelfManagedKafkaEventSourceConfig", m.uuid);
  if (m.kind == SourceKind::kMsk)
    m.extras_json = with_default_consumer_group(m.extras_json, "AmazonManagedKafkaEventSourceConfig", m.uuid);

  auto fn = resolve_function(*r.function_name, req.region);
  if (!fn) return reply(lambda_error(fn.status()));
  m.function_arn = *fn;

  const bool enabled = r.enabled.value_or(true);
  run_job(std::move(reply), [this, m = std::move(m), r = std::move(r), enabled](storage::Connection& c) mutable {
    if (sources_) {
      if (Status s = sources_->check_source(c, m); !s.is_ok()) return lambda_error(s);
    }
    auto dup = duplicate_of(c, m);
    if (!dup) return lambda_error(dup.status());
    if (*dup)
      return lambda_error(conflict(duplicate_message(m, **dup, r.bootstrap_servers.value_or(std::vector<std::string>{}))));
    const std::int64_t now = clock_.now_ms();
    const Transition t = on_create(enabled);
    m.state = t.now;
    m.settle_to = t.settle_to;
    m.settle_at_ms = t.settle_to ? now + options_.transition_delay_ms : 0;
    m.last_modified_ms = now;
    if (Status s = storage::insert_mapping(c, m); !s.is_ok()) return lambda_error(s);
    if (r.tags && !r.tags->empty()) {
      if (Status s = storage::put_tags(c, mapping_arn_of(m), *r.tags); !s.is_ok()) return lambda_error(s);
    }
    spdlog::info("mapping {} created: {} -> {} ({})", m.uuid, m.event_source_arn.empty() ? join(m.bootstrap_servers, ",") : m.event_source_arn,
                 m.function_arn, to_string(m.state));
    notify(m, false);
    if (t.settle_to) {
      settle_dirty_ = true;
      db_.poke();
    }
    return json_response(202, encode_mapping(m));
  });
}

void LambdaApi::run_read(Reply reply, std::function<Response(storage::Connection&)> fn) {
  if (!reads_) return run_job(std::move(reply), std::move(fn));
  Response r;
  try {
    r = reads_->with(fn);
  } catch (const std::exception& e) {
    spdlog::error("read failed: {}", e.what());
    r = lambda_error(internal_error("Internal error: " + std::string(e.what())));
  }
  reply(std::move(r));
}

void LambdaApi::get(const std::string& uuid, Request& req, Reply reply) {
  // The version is taken before the read: a commit after it makes what the read finds stale.
  const std::uint64_t version = get_cache_.current();
  if (auto hit = get_cache_.find(uuid, version, clock_.now_ms())) {
    if (hit->region != req.region) return reply(lambda_error(not_found(kNotFound)));
    return reply(json_response(200, std::move(hit->body)));
  }
  run_read(std::move(reply), [this, uuid, region = req.region, version](storage::Connection& c) {
    auto m = storage::get_mapping(c, uuid);
    if (!m) return mapping_error(m.status());
    std::string body = encode_mapping(*m);
    get_cache_.put(version, uuid, GetCache::Entry{m->region, body, m->settle_at_ms});
    if (m->region != region) return lambda_error(not_found(kNotFound));
    return json_response(200, std::move(body));
  });
}

void LambdaApi::list(Request& req, Reply reply) {
  storage::MappingQuery q;
  q.region = req.region;
  int page = 100;
  if (const std::string* mi = req.query_param("MaxItems")) {
    auto v = parse_int(*mi);
    if (!v) return reply(lambda_error(validation_error(validation_message(*mi, "maxItems", "Member must be an integer"))));
    if (*v < 1)
      return reply(lambda_error(validation_error(
          validation_message(*mi, "maxItems", "Member must have value greater than or equal to 1"))));
    if (*v > 10000)
      return reply(lambda_error(validation_error(
          validation_message(*mi, "maxItems", "Member must have value less than or equal to 10000"))));
    page = static_cast<int>(std::min<std::int64_t>(*v, 100));
  }
  if (const std::string* marker = req.query_param("Marker"); marker && !marker->empty()) {
    auto seq = decode_marker(*marker);
    if (!seq) return reply(lambda_error(invalid_parameter("Invalid Marker: " + *marker)));
    q.after_seq = *seq;
  }
  // The filters pass the model layer first, as in Create: a value that breaks the member's pattern
  // is a ValidationException, while a well-formed one that names nothing lists nothing.
  if (const std::string* arn = req.query_param("EventSourceArn"); arn && !arn->empty()) {
    if (!parse_arn(*arn)) return reply(pattern_violation(*arn, "eventSourceArn", kEventSourceArnPattern));
    q.event_source_arn = *arn;
  }
  bool matches_nothing = false;
  if (const std::string* fn = req.query_param("FunctionName"); fn && !fn->empty()) {
    auto ref = fn->size() <= 256 ? parse_function_ref(*fn) : std::nullopt;
    if (!ref) {
      return reply(pattern_violation(*fn, "functionName", kFunctionNamePattern));
    } else if ((!ref->region.empty() && ref->region != req.region) ||
               (!ref->account.empty() && ref->account != options_.account)) {
      matches_nothing = true;
    } else {
      q.function_arn = function_arn(req.region, options_.account, ref->name, ref->qualifier);
    }
  }
  if (matches_nothing) return reply(json_response(200, R"({"EventSourceMappings":[]})"));
  q.limit = page + 1;
  run_read(std::move(reply), [q, page](storage::Connection& c) {
    auto listed = storage::list_mappings(c, q);
    if (!listed) return lambda_error(listed.status());
    const auto& items = *listed;
    std::string body = R"({"EventSourceMappings":[)";
    const std::size_t n = std::min<std::size_t>(items.size(), static_cast<std::size_t>(page));
    for (std::size_t i = 0; i < n; ++i) {
      if (i) body.push_back(',');
      encode_mapping_into(body, items[i], true);
    }
    body.push_back(']');
    if (items.size() > n) body += R"(,"NextMarker":")" + encode_marker(items[n - 1].seq) + "\"";
    body.push_back('}');
    return json_response(200, std::move(body));
  });
}

void LambdaApi::update(const std::string& uuid, Request& req, Reply reply) {
  auto parsed = parse_mapping_request(req.body, false);
  if (!parsed) return reply(lambda_error(parsed.status()));
  run_job(std::move(reply), [this, uuid, region = req.region, r = std::move(parsed).value()](storage::Connection& c) {
    auto found = storage::get_mapping(c, uuid);
    if (!found) return mapping_error(found.status());
    Mapping m = std::move(found).value();
    if (m.region != region) return lambda_error(not_found(kNotFound));
    auto t = on_update(m.state, r.enabled);
    if (!t) return lambda_error(t.status());
    apply_common(m, r);
    if (Status s = check_source_rules(m, r, false); !s.is_ok()) return lambda_error(s);
    if (r.function_name) {
      auto fn = resolve_function(*r.function_name, region);
      if (!fn) return lambda_error(fn.status());
      m.function_arn = *fn;
    }
    const std::int64_t now = clock_.now_ms();
    m.state = t->now;
    m.settle_to = t->settle_to;
    m.settle_at_ms = now + options_.transition_delay_ms;
    m.last_modified_ms = now;
    Response shown = json_response(202, encode_mapping(m));  // the 202 shows the transitional state
    const MappingState shown_state = m.state;
    const bool instant = options_.transition_delay_ms == 0;
    if (instant) settle_now(m);
    if (Status s = storage::update_mapping(c, m); !s.is_ok()) return mapping_error(s);
    spdlog::info("mapping {} updated: {}{}{}", m.uuid, to_string(shown_state), instant ? " -> " : "",
                 instant ? to_string(m.state) : "");
    notify(m, false);
    if (!instant) {
      settle_dirty_ = true;
      db_.poke();
    }
    return shown;
  });
}

void LambdaApi::remove(const std::string& uuid, Request& req, Reply reply) {
  run_job(std::move(reply), [this, uuid, region = req.region](storage::Connection& c) {
    auto found = storage::get_mapping(c, uuid);
    if (!found) return mapping_error(found.status());
    Mapping m = std::move(found).value();
    if (m.region != region) return lambda_error(not_found(kNotFound));
    auto t = on_delete(m.state);
    if (!t) return lambda_error(t.status());
    const std::int64_t now = clock_.now_ms();
    m.state = t->now;
    m.settle_to.reset();
    m.settle_at_ms = now + options_.transition_delay_ms;
    m.last_modified_ms = now;
    if (options_.transition_delay_ms == 0) {
      if (Status s = storage::delete_mapping(c, m.uuid); !s.is_ok()) return mapping_error(s);
      spdlog::info("mapping {} deleted", m.uuid);
      notify(m, true);
      return json_response(202, encode_mapping(m));
    }
    if (Status s = storage::update_mapping(c, m); !s.is_ok()) return mapping_error(s);
    spdlog::info("mapping {} deleting", m.uuid);
    notify(m, false);
    settle_dirty_ = true;
    db_.poke();
    return json_response(202, encode_mapping(m));
  });
}

void LambdaApi::settle_now(Mapping& m) {
  // With --transition-delay-ms 0 a transition ends as it begins: the row is written settled,
  // saving a second write, while the 202 still shows the transitional state as AWS does.
  m.state = m.settle_to.value_or(m.state);
  m.settle_to.reset();
  m.settle_at_ms = 0;
}

std::optional<std::int64_t> LambdaApi::tick(storage::Connection& c, std::int64_t now_ms) {
  // The tick runs before every group of jobs; skip the queries while nothing is due.
  if (!settle_dirty_ && (!next_settle_ || now_ms < *next_settle_)) return next_settle_;
  settle_dirty_ = false;
  auto due = storage::due_transitions(c, now_ms);
  if (!due) {
    // Not read is not "nothing due": look again shortly.
    spdlog::error("mapping transitions not read: {}", due.status().message());
    settle_dirty_ = true;
    return now_ms + kTickRetryMs;
  }
  for (Mapping& m : *due) {
    if (m.state == MappingState::kDeleting) {
      if (Status s = storage::delete_mapping(c, m.uuid); !s.is_ok()) {
        spdlog::error("mapping {}: delete failed: {}", m.uuid, s.message());
        continue;
      }
      spdlog::info("mapping {} deleted", m.uuid);
      notify(m, true);
      continue;
    }
    const MappingState from = m.state;
    m.state = m.settle_to.value_or(MappingState::kEnabled);
    m.settle_to.reset();
    m.settle_at_ms = 0;
    m.last_modified_ms = now_ms;
    if (Status s = storage::update_mapping(c, m); !s.is_ok()) {
      spdlog::error("mapping {}: settle failed: {}", m.uuid, s.message());
      continue;
    }
    spdlog::info("mapping {}: {} -> {}", m.uuid, to_string(from), to_string(m.state));
    notify(m, false);
  }
  auto next = storage::next_transition_at(c);
  if (!next) {
    spdlog::error("mapping transitions not read: {}", next.status().message());
    settle_dirty_ = true;
    return now_ms + kTickRetryMs;
  }
  next_settle_ = *next;
  return next_settle_;
}

void LambdaApi::tags(const std::string& arn_text, Request& req, Reply reply) {
  auto arn = parse_arn(arn_text);
  const bool is_mapping = arn && arn->service == "lambda" && arn->resource.starts_with("event-source-mapping:") &&
                          looks_like_uuid(std::string_view(arn->resource).substr(21));
  const bool is_function = arn && arn->service == "lambda" && arn->resource.starts_with("function:");
  if (!is_mapping && !is_function)
    return reply(lambda_error(validation_error(validation_message(
        arn_text, "resource", std::string("Member must satisfy regular expression pattern: ") + kTaggableArnPattern))));
  // Lambda holds no resource in another partition, region or account than the request's.
  const bool here = arn->partition == "aws" && arn->region == req.region && arn->account == options_.account;
  if (is_function) {
    auto ref = parse_function_ref(arn_text);
    if (!ref)
      return reply(lambda_error(validation_error(validation_message(
          arn_text, "resource", std::string("Member must satisfy regular expression pattern: ") + kTaggableArnPattern))));
    if (!ref->qualifier.empty())
      return reply(lambda_error(invalid_parameter(
          "Tags on function aliases and versions are not supported. Please specify a function ARN.")));
    if (!here || !functions_.exists(ref->name))
      return reply(lambda_error(not_found("Function not found: " + arn_text)));
  }
  if (is_mapping && !here) return reply(lambda_error(not_found("Event source mapping not found: " + arn_text)));
  std::string uuid = is_mapping ? arn->resource.substr(21) : std::string();
  const std::string method = req.method;
  storage::Tags new_tags;
  std::vector<std::string> keys;
  if (method == "POST") {
    rapidjson::Document d;
    if (json_depth_within(req.body)) d.Parse<rapidjson::kParseValidateEncodingFlag>(req.body.c_str(), req.body.size());
    if (!json_depth_within(req.body) || d.HasParseError() || !d.IsObject())
      return reply(lambda_error(invalid_parameter("Could not parse request body into json")));
    auto it = d.FindMember("Tags");
    if (it == d.MemberEnd() || it->value.IsNull())
      return reply(lambda_error(validation_error(validation_message("", "tags", "Member must not be null", true))));
    if (!it->value.IsObject())
      return reply(lambda_error(invalid_parameter("Could not parse request body into json: Tags must be a map")));
    for (const auto& t : it->value.GetObject()) {
      if (!t.value.IsString())
        return reply(lambda_error(invalid_parameter("Could not parse request body into json: tag values must be strings")));
      new_tags.emplace(t.name.GetString(), t.value.GetString());
    }
    // Recorded for an empty Tags map (LS-API test_tag_exceptions).
    if (new_tags.empty())
      return reply(lambda_error(invalid_parameter("An error occurred and the request cannot be processed.")));
    if (Status s = check_tag_keys(new_tags); !s.is_ok()) return reply(lambda_error(s));
  } else if (method == "DELETE") {
    keys = req.query_params("tagKeys");
    if (keys.empty())
      return reply(lambda_error(validation_error(validation_message("", "tagKeys", "Member must not be null", true))));
  } else if (method != "GET") {
    return reply(lambda_error({Code::kUnknownOperation, "Unknown operation: " + method + " " + req.path}));
  }
  run_job(std::move(reply), [uuid, is_mapping, arn_text, method, new_tags, keys, region = req.region,
                             account = options_.account](storage::Connection& c) {
    std::string key_arn = arn_text;
    if (is_mapping) {
      auto m = storage::get_mapping(c, uuid);
      if (!m || m->region != region || m->account != parse_arn(arn_text)->account)
        return lambda_error(not_found("Event source mapping not found: " + arn_text));
      key_arn = mapping_arn_of(*m);
    }
    if (method == "GET") {
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      w.StartObject();
      w.Key("Tags");
      w.StartObject();
      auto tags = storage::get_tags(c, key_arn);
      if (!tags) return lambda_error(tags.status());
      for (const auto& [k, v] : *tags) {
        w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
        w.String(v);
      }
      w.EndObject();
      w.EndObject();
      return json_response(200, std::string(buf.GetString(), buf.GetSize()));
    }
    if (method == "POST") {
      auto held = storage::get_tags(c, key_arn);
      if (!held) return lambda_error(held.status());
      if (Status s = check_tag_count(*held, new_tags); !s.is_ok()) return lambda_error(s);
    }
    Status s = method == "POST" ? storage::put_tags(c, key_arn, new_tags) : storage::remove_tags(c, key_arn, keys);
    if (!s.is_ok()) return lambda_error(s);
    return empty_response(204);
  });
}

namespace {
void write_function_config(rapidjson::Writer<rapidjson::StringBuffer>& w, const FunctionSpec& f,
                           const std::string& arn) {
  w.StartObject();
  w.Key("FunctionName");
  w.String(f.name);
  w.Key("FunctionArn");
  w.String(arn);
  w.Key("Runtime");
  w.String("provided.al2023");
  w.Key("Handler");
  w.String("esmd");
  w.Key("Description");
  w.String("esmd target: " + f.target);
  w.Key("Timeout");
  w.Int(std::max(1, f.timeout_ms / 1000));
  w.Key("MemorySize");
  w.Int(128);
  w.Key("CodeSize");
  w.Int(0);
  w.Key("Version");
  w.String("$LATEST");
  w.Key("State");
  w.String("Active");
  w.Key("LastUpdateStatus");
  w.String("Successful");
  w.Key("PackageType");
  w.String("Zip");
  w.EndObject();
}
}  // namespace

void LambdaApi::get_function(const std::string& name, Request& req, Reply reply) {
  auto ref = parse_function_ref(name);
  const std::string arn_for_error = ref ? function_arn(req.region, options_.account, ref->name, ref->qualifier) : name;
  auto f = ref ? functions_.find(ref->name) : std::nullopt;
  if (!f || (!ref->region.empty() && ref->region != req.region) ||
      (!ref->account.empty() && ref->account != options_.account))
    return reply(lambda_error(not_found("Function not found: " + arn_for_error)));
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("Configuration");
  write_function_config(w, *f, function_arn(req.region, options_.account, f->name));
  w.Key("Code");
  w.StartObject();
  w.Key("RepositoryType");
  w.String("S3");
  w.EndObject();
  w.Key("Tags");
  w.StartObject();
  w.EndObject();
  w.EndObject();
  reply(json_response(200, std::string(buf.GetString(), buf.GetSize())));
}

void LambdaApi::list_functions(Request& req, Reply reply) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("Functions");
  w.StartArray();
  for (const auto& f : functions_.list()) write_function_config(w, f, function_arn(req.region, options_.account, f.name));
  w.EndArray();
  w.EndObject();
  reply(json_response(200, std::string(buf.GetString(), buf.GetSize())));
}

}  // namespace esm::api
