// The free functions of api/lambda_api.h: source classification, filter-pattern validity and
// the source-kind rule catalogue of control-plane.md §5.2 and §5.4.
#include <catch2/catch.hpp>

#include <string>

#include "api/lambda_api.h"

using namespace esm;
using namespace esm::api;

namespace {

std::string arn_for(SourceKind kind, bool fifo) {
  switch (kind) {
    case SourceKind::kSqs: return fifo ? "arn:aws:sqs:us-east-1:123456789012:q.fifo" : "arn:aws:sqs:us-east-1:123456789012:q";
    case SourceKind::kKinesis: return "arn:aws:kinesis:us-east-1:123456789012:stream/s";
    case SourceKind::kDynamoDb: return "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000";
    case SourceKind::kMsk: return "arn:aws:kafka:us-east-1:123456789012:cluster/c/abc";
    case SourceKind::kSelfManagedKafka: return "";
    case SourceKind::kMq: return "arn:aws:mq:us-east-1:123456789012:broker:b:b-1";
    case SourceKind::kDocumentDb: return "arn:aws:rds:us-east-1:123456789012:cluster:docdb";
  }
  return "";
}

// Runs the rules on the mapping a request of this kind would produce (the request's values
// merged over the kind's BatchSize default).
Status rules(SourceKind kind, const std::string& members, bool is_create = true, bool fifo = false) {
  const std::string body = R"({"FunctionName":"f")" + (members.empty() ? "" : "," + members) + "}";
  auto r = parse_mapping_request(body, is_create);
  INFO(body);
  REQUIRE(r);
  Mapping m;
  m.kind = kind;
  m.fifo = fifo;
  m.event_source_arn = arn_for(kind, fifo);
  m.batch_size = kind == SourceKind::kSqs ? 10 : 100;
  if (r->batch_size) m.batch_size = *r->batch_size;
  if (r->batching_window_s) m.batching_window_s = r->batching_window_s;
  if (r->maximum_record_age_s) m.maximum_record_age_s = r->maximum_record_age_s;
  if (r->filter_patterns) m.filter_patterns = *r->filter_patterns;
  if (r->topics) m.topics = *r->topics;
  m.extras_json = merge_extras(m.extras_json, r->extras_json);
  return check_source_rules(m, *r, is_create);
}

std::string unsupported(const std::string& member) {
  return "Unsupported " + member + " parameter for given event source mapping type.";
}

void check_ipve(const Status& s, const std::string& message) {
  CHECK(s.code() == Code::kInvalidParameter);
  CHECK(s.message() == message);
}

constexpr const char* kKafkaOk =
    R"("Topics":["t"],"SourceAccessConfigurations":[{"Type":"BASIC_AUTH","URI":"arn:aws:secretsmanager:us-east-1:123456789012:secret:s"}])";

}  // namespace

// ---- classify_source ---------------------------------------------------------------------------

TEST_CASE("each supported event source ARN is classified by its service and resource") {
  CHECK(classify_source("arn:aws:sqs:us-east-1:123456789012:orders") == SourceKind::kSqs);
  CHECK(classify_source("arn:aws:sqs:us-east-1:123456789012:orders.fifo") == SourceKind::kSqs);
  CHECK(classify_source("arn:aws:kinesis:us-east-1:123456789012:stream/clicks") == SourceKind::kKinesis);
  CHECK(classify_source("arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-01-01T00:00:00.000") ==
        SourceKind::kDynamoDb);
  CHECK(classify_source("arn:aws:kafka:us-east-1:123456789012:cluster/c/abc-1") == SourceKind::kMsk);
  CHECK(classify_source("arn:aws:mq:us-east-1:123456789012:broker:b:b-1234") == SourceKind::kMq);
  CHECK(classify_source("arn:aws:rds:us-east-1:123456789012:cluster:docdb-1") == SourceKind::kDocumentDb);
}

TEST_CASE("ARNs of other services or resources are not event sources") {
  CHECK_FALSE(classify_source("arn:aws:sns:us-east-1:123456789012:topic"));
  CHECK_FALSE(classify_source("arn:aws:s3:::bucket"));
  CHECK_FALSE(classify_source("arn:aws:sqs:us-east-1:123456789012:"));
  CHECK_FALSE(classify_source("arn:aws:kinesis:us-east-1:123456789012:consumer/x"));
  CHECK_FALSE(classify_source("arn:aws:dynamodb:us-east-1:123456789012:table/t"));
  CHECK_FALSE(classify_source("arn:aws:kafka:us-east-1:123456789012:topic/c/x"));
  CHECK_FALSE(classify_source("arn:aws:rds:us-east-1:123456789012:db:x"));
  CHECK_FALSE(classify_source("orders"));
  CHECK_FALSE(classify_source(""));
}

// ---- is_valid_filter_pattern ------------------------------------------------------------------

TEST_CASE("a filter pattern is a JSON object whose leaves are non-empty arrays") {
  CHECK(is_valid_filter_pattern(R"({"eventSource":["aws:sqs"]})"));
  CHECK(is_valid_filter_pattern(R"({"body":{"a":[1],"b":{"c":[{"prefix":"x"}]}}})"));
  CHECK(is_valid_filter_pattern(R"( {"a":[null]} )"));
}

TEST_CASE("the recorded invalid filter patterns are refused") {
  for (const char* p : {"", "not json", "null", R"({"eventSource":"aws:sqs"})", R"({"eventSource":[]})",
                        R"({"a":)", R"([{"a":[1]}])", R"({"a":{"b":5}})", R"({"a":[1]} trailing)", "42"}) {
    INFO(p);
    CHECK_FALSE(is_valid_filter_pattern(p));
  }
}

// ---- check_source_rules: parameters a kind refuses ---------------------------------------------

TEST_CASE("DestinationConfig on SQS is refused with the recorded message") {
  check_ipve(rules(SourceKind::kSqs, R"("DestinationConfig":{"OnFailure":{"Destination":"arn:aws:sqs:us-east-1:123456789012:dlq"}})"),
             "Unsupported DestinationConfig parameter for given event source mapping type.");
}

TEST_CASE("an OnSuccess destination on a stream is refused like the SQS case") {
  check_ipve(rules(SourceKind::kKinesis,
                   R"("StartingPosition":"LATEST","DestinationConfig":{"OnSuccess":{"Destination":"arn:aws:sqs:us-east-1:123456789012:ok"}})"),
             unsupported("DestinationConfig"));
  CHECK(rules(SourceKind::kKinesis,
              R"("StartingPosition":"LATEST","DestinationConfig":{"OnFailure":{"Destination":"arn:aws:sqs:us-east-1:123456789012:dlq"}})")
            .is_ok());
}

TEST_CASE("stream-only parameters on SQS are refused even with their default values") {
  const std::pair<const char*, const char*> rows[] = {
      {"ParallelizationFactor", R"("ParallelizationFactor":1)"},
      {"BisectBatchOnFunctionError", R"("BisectBatchOnFunctionError":false)"},
      {"MaximumRetryAttempts", R"("MaximumRetryAttempts":-1)"},
      {"MaximumRecordAgeInSeconds", R"("MaximumRecordAgeInSeconds":-1)"},
      {"TumblingWindowInSeconds", R"("TumblingWindowInSeconds":0)"},
  };
  for (const auto& [member, json] : rows) {
    INFO(member);
    check_ipve(rules(SourceKind::kSqs, json), unsupported(member));
    check_ipve(rules(SourceKind::kSqs, json, false), unsupported(member));
  }
}

TEST_CASE("ScalingConfig is refused on anything but SQS") {
  CHECK(rules(SourceKind::kSqs, R"("ScalingConfig":{"MaximumConcurrency":2})").is_ok());
  for (auto kind : {SourceKind::kKinesis, SourceKind::kDynamoDb, SourceKind::kMsk, SourceKind::kMq}) {
    INFO(to_string(kind));
    check_ipve(rules(kind, R"("ScalingConfig":{"MaximumConcurrency":2})"), unsupported("ScalingConfig"));
  }
}

TEST_CASE("FunctionResponseTypes is refused on MQ and DocumentDB and accepted on Kafka") {
  check_ipve(rules(SourceKind::kMq, R"("FunctionResponseTypes":["ReportBatchItemFailures"])"),
             unsupported("FunctionResponseTypes"));
  check_ipve(rules(SourceKind::kDocumentDb, R"("FunctionResponseTypes":[])"), unsupported("FunctionResponseTypes"));
  CHECK(rules(SourceKind::kSelfManagedKafka, std::string(kKafkaOk) + R"(,"FunctionResponseTypes":["ReportBatchItemFailures"])")
            .is_ok());
}

TEST_CASE("Kafka and MQ parameters on SQS and streams are refused by name") {
  const std::pair<const char*, const char*> rows[] = {
      {"SourceAccessConfigurations", R"("SourceAccessConfigurations":[{"Type":"BASIC_AUTH","URI":"u"}])"},
      {"Topics", R"("Topics":["t"])"},
      {"Queues", R"("Queues":["q"])"},
      {"SelfManagedKafkaEventSourceConfig", R"("SelfManagedKafkaEventSourceConfig":{"ConsumerGroupId":"g"})"},
      {"AmazonManagedKafkaEventSourceConfig", R"("AmazonManagedKafkaEventSourceConfig":{"ConsumerGroupId":"g"})"},
      {"SelfManagedEventSource", R"("SelfManagedEventSource":{"Endpoints":{"KAFKA_BOOTSTRAP_SERVERS":["k:1"]}})"},
  };
  for (auto kind : {SourceKind::kSqs, SourceKind::kKinesis, SourceKind::kDynamoDb}) {
    for (const auto& [member, json] : rows) {
      INFO(to_string(kind) << " " << member);
      check_ipve(rules(kind, json), unsupported(member));
    }
  }
}

TEST_CASE("the member checks run in catalogue order, before the StartingPosition rules") {
  check_ipve(rules(SourceKind::kSqs, R"("StartingPosition":"LATEST","Topics":["t"],"DestinationConfig":{})"),
             unsupported("DestinationConfig"));
}

// ---- check_source_rules: starting position -----------------------------------------------------

TEST_CASE("StartingPosition on SQS is refused with the recorded message") {
  check_ipve(rules(SourceKind::kSqs, R"("StartingPosition":"LATEST")"),
             "StartingPosition is not valid for SQS event sources.");
}

TEST_CASE("a stream without StartingPosition gets the model-like message as an InvalidParameterValue") {
  for (auto kind : {SourceKind::kKinesis, SourceKind::kDynamoDb}) {
    INFO(to_string(kind));
    check_ipve(rules(kind, ""),
               "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member "
               "must not be null.");
  }
  CHECK(rules(SourceKind::kKinesis, R"("StartingPosition":"TRIM_HORIZON")").is_ok());
}

TEST_CASE("AT_TIMESTAMP on a DynamoDB stream is refused naming the stream ARN") {
  check_ipve(rules(SourceKind::kDynamoDb, R"("StartingPosition":"AT_TIMESTAMP","StartingPositionTimestamp":1700000000)"),
             "Unsupported starting position for arn type: " + arn_for(SourceKind::kDynamoDb, false));
}

TEST_CASE("AT_TIMESTAMP needs a timestamp, and a timestamp needs AT_TIMESTAMP") {
  check_ipve(rules(SourceKind::kKinesis, R"("StartingPosition":"AT_TIMESTAMP")"), "Need to specify a timestamp");
  check_ipve(rules(SourceKind::kKinesis, R"("StartingPosition":"LATEST","StartingPositionTimestamp":1700000000)"),
             "Timestamp only valid with StartingPosition AT_TIMESTAMP");
  CHECK(rules(SourceKind::kKinesis, R"("StartingPosition":"AT_TIMESTAMP","StartingPositionTimestamp":1700000000)")
            .is_ok());
}

TEST_CASE("StartingPosition on MQ is refused") {
  check_ipve(rules(SourceKind::kMq, R"("StartingPosition":"LATEST")"), unsupported("StartingPosition"));
}

TEST_CASE("the starting-position rules apply to Create only") {
  CHECK(rules(SourceKind::kKinesis, "", false).is_ok());
  CHECK(rules(SourceKind::kSqs, R"("StartingPosition":"LATEST")", false).is_ok());
}

// ---- check_source_rules: batching --------------------------------------------------------------

TEST_CASE("an SQS BatchSize above 10 needs a batching window, on Create and on Update") {
  const std::string message =
      "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10";
  check_ipve(rules(SourceKind::kSqs, R"("BatchSize":11)"), message);
  check_ipve(rules(SourceKind::kSqs, R"("BatchSize":11,"MaximumBatchingWindowInSeconds":0)"), message);
  check_ipve(rules(SourceKind::kSqs, R"("BatchSize":11)", false), message);
  CHECK(rules(SourceKind::kSqs, R"("BatchSize":10)").is_ok());
  CHECK(rules(SourceKind::kSqs, R"("BatchSize":10000,"MaximumBatchingWindowInSeconds":1)").is_ok());
}

TEST_CASE("streams accept a large BatchSize without a window") {
  CHECK(rules(SourceKind::kKinesis, R"("StartingPosition":"LATEST","BatchSize":200,"MaximumBatchingWindowInSeconds":0)")
            .is_ok());
}

TEST_CASE("a FIFO queue refuses a batching window and a BatchSize above 10") {
  check_ipve(rules(SourceKind::kSqs, R"("MaximumBatchingWindowInSeconds":1)", true, true),
             "Batching window is not supported for FIFO queues");
  check_ipve(rules(SourceKind::kSqs, R"("BatchSize":11,"MaximumBatchingWindowInSeconds":1)", true, true),
             "Batching window is not supported for FIFO queues");
  check_ipve(rules(SourceKind::kSqs, R"("BatchSize":11)", true, true),
             "Maximum batch size must be between 1 and 10 inclusive");
  CHECK(rules(SourceKind::kSqs, R"("BatchSize":10,"MaximumBatchingWindowInSeconds":0)", true, true).is_ok());
}

TEST_CASE("MaximumRecordAgeInSeconds must be -1 or at least 60") {
  const std::string message =
      "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)";
  for (const char* v : {"0", "1", "59"}) {
    INFO(v);
    check_ipve(rules(SourceKind::kKinesis, std::string(R"("StartingPosition":"LATEST","MaximumRecordAgeInSeconds":)") + v),
               message);
  }
  for (const char* v : {"-1", "60", "604800"}) {
    INFO(v);
    CHECK(rules(SourceKind::kKinesis, std::string(R"("StartingPosition":"LATEST","MaximumRecordAgeInSeconds":)") + v)
              .is_ok());
  }
}

// ---- check_source_rules: Kafka -----------------------------------------------------------------

TEST_CASE("self-managed Kafka needs SourceAccessConfigurations") {
  check_ipve(rules(SourceKind::kSelfManagedKafka, R"("Topics":["t"])"),
             "Required 'sourceAccessConfigurations' parameter is missing.");
}

TEST_CASE("Kafka needs Topics") {
  check_ipve(rules(SourceKind::kSelfManagedKafka,
                   R"("SourceAccessConfigurations":[{"Type":"BASIC_AUTH","URI":"arn:aws:secretsmanager:us-east-1:123456789012:secret:s"}])"),
             "Required 'topics' parameter is missing.");
  check_ipve(rules(SourceKind::kMsk, ""), "Required 'topics' parameter is missing.");
  CHECK(rules(SourceKind::kMsk, R"("Topics":["t"])").is_ok());
  CHECK(rules(SourceKind::kSelfManagedKafka, kKafkaOk).is_ok());
}

TEST_CASE("an Update that sends a ConsumerGroupId is refused naming the block") {
  check_ipve(rules(SourceKind::kSelfManagedKafka, R"("SelfManagedKafkaEventSourceConfig":{"ConsumerGroupId":"g"})", false),
             "Unsupported 'SelfManagedKafkaEventSourceConfig.consumerGroupId' parameter for given event source "
             "mapping type");
  check_ipve(rules(SourceKind::kMsk, R"("AmazonManagedKafkaEventSourceConfig":{"ConsumerGroupId":"g"})", false),
             "Unsupported 'AmazonManagedKafkaEventSourceConfig.consumerGroupId' parameter for given event source "
             "mapping type");
  CHECK(rules(SourceKind::kMsk, R"("AmazonManagedKafkaEventSourceConfig":{"SchemaRegistryConfig":{}})", false).is_ok());
  CHECK(rules(SourceKind::kMsk, R"("Topics":["t"],"AmazonManagedKafkaEventSourceConfig":{"ConsumerGroupId":"g"})").is_ok());
}

// ---- check_source_rules: filters and pollers ---------------------------------------------------

TEST_CASE("an invalid filter pattern is refused with the recorded message") {
  check_ipve(rules(SourceKind::kSqs, R"("FilterCriteria":{"Filters":[{"Pattern":"{\"eventSource\":\"aws:sqs\"}"}]})"),
             "Invalid filter pattern definition.");
  check_ipve(rules(SourceKind::kSqs, R"("FilterCriteria":{"Filters":[{}]})"), "Invalid filter pattern definition.");
  CHECK(rules(SourceKind::kSqs, R"("FilterCriteria":{"Filters":[{"Pattern":"{\"body\":{\"a\":[1]}}"}]})").is_ok());
  CHECK(rules(SourceKind::kSqs, R"("FilterCriteria":{"Filters":[]})").is_ok());
}

std::string filters(int n, std::size_t pattern_chars = 0) {
  std::string out = R"("FilterCriteria":{"Filters":[)";
  for (int i = 0; i < n; ++i) {
    std::string value = "v" + std::to_string(i);
    // The pattern {"a":["VALUE"]} is 10 characters around the value.
    if (pattern_chars > 10) value.resize(pattern_chars - 10, 'x');
    out += std::string(i ? "," : "") + R"({"Pattern":"{\"a\":[\")" + value + R"(\"]}"})";
  }
  return out + "]}";
}

TEST_CASE("more than five filters, or a pattern over 4096 characters, is the filter error") {
  CHECK(rules(SourceKind::kSqs, filters(5)).is_ok());
  check_ipve(rules(SourceKind::kSqs, filters(6)), "Invalid filter pattern definition.");
  CHECK(rules(SourceKind::kSqs, filters(1, 4096)).is_ok());
  check_ipve(rules(SourceKind::kSqs, filters(1, 4097)), "Invalid filter pattern definition.");
  check_ipve(rules(SourceKind::kKinesis, R"("StartingPosition":"LATEST",)" + filters(6)),
             "Invalid filter pattern definition.");
}

TEST_CASE("validation uses the matcher's compiler: operator mistakes are refused") {
  check_ipve(rules(SourceKind::kSqs, R"("FilterCriteria":{"Filters":[{"Pattern":"{\"a\":[{\"numeric\":[\">\",5,\"<\",5]}]}"}]})"),
             "Invalid filter pattern definition.");
  check_ipve(rules(SourceKind::kSqs, R"("FilterCriteria":{"Filters":[{"Pattern":"{\"a\":[{\"EXISTS\":true}]}"}]})"),
             "Invalid filter pattern definition.");
  CHECK(rules(SourceKind::kSqs, R"("FilterCriteria":{"Filters":[{"Pattern":"{\"a\":[{\"cidr\":\"10.0.0.0/8\"}]}"}]})")
            .is_ok());
}

TEST_CASE("provisioned pollers need MinimumPollers at most MaximumPollers") {
  check_ipve(rules(SourceKind::kSqs, R"("ProvisionedPollerConfig":{"MinimumPollers":5,"MaximumPollers":2})"),
             "The minimum number of pollers (MinimumPollers) must be less than or equal to the maximum number of "
             "pollers (MaximumPollers).");
  CHECK(rules(SourceKind::kSqs, R"("ProvisionedPollerConfig":{"MinimumPollers":2,"MaximumPollers":5})").is_ok());
}

TEST_CASE("SQS provisioned pollers start at two on Create and on Update") {
  for (bool is_create : {true, false}) {
    check_ipve(rules(SourceKind::kSqs, R"("ProvisionedPollerConfig":{"MinimumPollers":1})", is_create),
               "1 validation error detected: Value '1' at 'provisionedPollerConfig.minimumPollers' failed to satisfy "
               "constraint: Member must have value greater than or equal to 2");
  }
  CHECK(rules(SourceKind::kSelfManagedKafka, std::string(R"("ProvisionedPollerConfig":{"MinimumPollers":1},)") + kKafkaOk)
            .is_ok());
}

TEST_CASE("a timestamp without AT_TIMESTAMP is refused with the recorded text for every source") {
  check_ipve(rules(SourceKind::kSqs, R"("StartingPositionTimestamp":1700000000)"),
             "Timestamp only valid with StartingPosition AT_TIMESTAMP");
  check_ipve(rules(SourceKind::kSelfManagedKafka, R"("StartingPosition":"LATEST","StartingPositionTimestamp":1700000000)"),
             "Timestamp only valid with StartingPosition AT_TIMESTAMP");
  check_ipve(rules(SourceKind::kDynamoDb, R"("StartingPosition":"TRIM_HORIZON","StartingPositionTimestamp":1700000000)"),
             "Timestamp only valid with StartingPosition AT_TIMESTAMP");
}
