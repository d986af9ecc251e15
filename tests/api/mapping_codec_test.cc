#include <catch2/catch.hpp>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <set>
#include <string>

#include "api/mapping_codec.h"

using namespace esm;
using namespace esm::api;

namespace {

rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

std::set<std::string> keys_of(const rapidjson::Value& v) {
  std::set<std::string> out;
  for (const auto& m : v.GetObject()) out.emplace(m.name.GetString(), m.name.GetStringLength());
  return out;
}

Status parse_error(const std::string& body, bool is_create = true) {
  auto r = parse_mapping_request(body, is_create);
  REQUIRE_FALSE(r);
  return r.status();
}

constexpr const char* kFullCreate = R"({
  "FunctionName": "my-fn:prod",
  "EventSourceArn": "arn:aws:kinesis:us-east-1:123456789012:stream/s",
  "Enabled": false,
  "BatchSize": 500,
  "MaximumBatchingWindowInSeconds": 5,
  "ParallelizationFactor": 3,
  "MaximumRetryAttempts": 7,
  "MaximumRecordAgeInSeconds": 3600,
  "BisectBatchOnFunctionError": true,
  "TumblingWindowInSeconds": 60,
  "StartingPosition": "AT_TIMESTAMP",
  "StartingPositionTimestamp": 1700000000.5,
  "FilterCriteria": {"Filters": [{"Pattern": "{\"a\":[1]}"}, {"Pattern": "{\"b\":[2]}"}]},
  "FunctionResponseTypes": ["ReportBatchItemFailures"],
  "ScalingConfig": {"MaximumConcurrency": 5},
  "DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:sqs:us-east-1:123456789012:ok"},
                        "OnFailure": {"Destination": "arn:aws:sns:us-east-1:123456789012:bad"}},
  "Topics": ["t"],
  "SelfManagedEventSource": {"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["b:9092", "a:9092"]}},
  "Tags": {"team": "x", "env": "dev"},
  "Queues": ["q"],
  "SourceAccessConfigurations": [{"Type": "BASIC_AUTH", "URI": "arn:aws:secretsmanager:us-east-1:123456789012:secret:s"}],
  "AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "g1"},
  "SelfManagedKafkaEventSourceConfig": {"ConsumerGroupId": "g2", "SchemaRegistryConfig": {"SchemaRegistryURI": "x"}},
  "DocumentDBEventSourceConfig": {"DatabaseName": "db", "CollectionName": "c", "FullDocument": "UpdateLookup"},
  "KMSKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k",
  "MetricsConfig": {"Metrics": ["EventCount"]},
  "LoggingConfig": {"SystemLogLevel": "INFO"},
  "ProvisionedPollerConfig": {"MinimumPollers": 1, "MaximumPollers": 3}
})";

Mapping base_mapping(SourceKind kind) {
  Mapping m;
  m.uuid = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";
  m.region = "us-east-1";
  m.account = "123456789012";
  m.kind = kind;
  m.function_arn = "arn:aws:lambda:us-east-1:123456789012:function:process-orders";
  m.state = MappingState::kCreating;
  m.last_modified_ms = 1'732'900'705'225;
  return m;
}

// The defaults LambdaApi::create gives each kind (control-plane.md §6).
Mapping sqs_defaults() {
  Mapping m = base_mapping(SourceKind::kSqs);
  m.event_source_arn = "arn:aws:sqs:us-east-1:123456789012:orders";
  m.state_reason = "USER_INITIATED";
  m.batch_size = 10;
  m.batching_window_s = 0;
  m.report_batch_item_failures = false;
  return m;
}

Mapping kinesis_defaults() {
  Mapping m = base_mapping(SourceKind::kKinesis);
  m.event_source_arn = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks";
  m.state_reason = "User action";
  m.batch_size = 100;
  m.batching_window_s = 0;
  m.parallelization_factor = 1;
  m.maximum_retry_attempts = -1;
  m.maximum_record_age_s = -1;
  m.bisect_on_error = false;
  m.tumbling_window_s = 0;
  m.destinations = Destinations{};
  m.report_batch_item_failures = false;
  m.last_processing_result = "No records processed";
  m.starting_position = "LATEST";
  return m;
}

Mapping kafka_defaults() {
  Mapping m = base_mapping(SourceKind::kSelfManagedKafka);
  m.state_reason = "USER_INITIATED";
  m.batch_size = 100;
  m.last_processing_result = "No records processed";
  m.starting_position = "TRIM_HORIZON";
  m.topics = {"topic"};
  m.bootstrap_servers = {"kafka:1000"};
  m.extras_json =
      R"({"SourceAccessConfigurations":[{"Type":"BASIC_AUTH","URI":"arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-creds-AbCdEf"}],)"
      R"("SelfManagedKafkaEventSourceConfig":{"ConsumerGroupId":"6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"}})";
  return m;
}

}  // namespace

// ---- parse: members -------------------------------------------------------------------------

TEST_CASE("a Create body with every member parses each into its field") {
  auto r = parse_mapping_request(kFullCreate, true);
  REQUIRE(r);
  CHECK(r->function_name == "my-fn:prod");
  CHECK(r->event_source_arn == "arn:aws:kinesis:us-east-1:123456789012:stream/s");
  CHECK(r->enabled == false);
  CHECK(r->batch_size == 500);
  CHECK(r->batching_window_s == 5);
  CHECK(r->parallelization_factor == 3);
  CHECK(r->maximum_retry_attempts == 7);
  CHECK(r->maximum_record_age_s == 3600);
  CHECK(r->bisect_on_error == true);
  CHECK(r->tumbling_window_s == 60);
  CHECK(r->starting_position == "AT_TIMESTAMP");
  CHECK(r->starting_position_ts == 1700000000.5);
  CHECK(r->filter_patterns == std::vector<std::string>{R"({"a":[1]})", R"({"b":[2]})"});
  CHECK(r->response_types == std::vector<std::string>{"ReportBatchItemFailures"});
  CHECK(r->scaling_config_sent);
  CHECK(r->maximum_concurrency == 5);
  REQUIRE(r->destinations);
  CHECK(r->destinations->on_success == "arn:aws:sqs:us-east-1:123456789012:ok");
  CHECK(r->destinations->on_failure == "arn:aws:sns:us-east-1:123456789012:bad");
  CHECK(r->topics == std::vector<std::string>{"t"});
  CHECK(r->bootstrap_servers == std::vector<std::string>{"b:9092", "a:9092"});
  CHECK(r->tags == std::map<std::string, std::string>{{"team", "x"}, {"env", "dev"}});
  CHECK(r->consumer_group_block == "SelfManagedKafkaEventSourceConfig");

  auto extras = parse_json(r->extras_json);
  CHECK(keys_of(extras) == std::set<std::string>{"Queues", "SourceAccessConfigurations",
                                                 "AmazonManagedKafkaEventSourceConfig",
                                                 "SelfManagedKafkaEventSourceConfig", "DocumentDBEventSourceConfig",
                                                 "KMSKeyArn", "MetricsConfig", "LoggingConfig",
                                                 "ProvisionedPollerConfig"});
  CHECK(std::string(extras["Queues"][0].GetString()) == "q");
  CHECK(std::string(extras["SourceAccessConfigurations"][0]["Type"].GetString()) == "BASIC_AUTH");
  CHECK(std::string(extras["SelfManagedKafkaEventSourceConfig"]["SchemaRegistryConfig"]["SchemaRegistryURI"]
                        .GetString()) == "x");
  CHECK(std::string(extras["DocumentDBEventSourceConfig"]["FullDocument"].GetString()) == "UpdateLookup");
  CHECK(std::string(extras["KMSKeyArn"].GetString()) == "arn:aws:kms:us-east-1:123456789012:key/k");
  CHECK(extras["ProvisionedPollerConfig"]["MaximumPollers"].GetInt() == 3);

  CHECK(r->present.count("FunctionName") == 1);
  CHECK(r->present.count("ProvisionedPollerConfig") == 1);
  CHECK(r->present.size() == 28);
}

TEST_CASE("an Update body ignores the create-only members") {
  auto r = parse_mapping_request(
      R"({"EventSourceArn":"garbage","StartingPosition":"bogus","StartingPositionTimestamp":"x","Topics":"t",)"
      R"("Tags":{"a":1},"SelfManagedEventSource":5,"BatchSize":7})",
      false);
  REQUIRE(r);
  CHECK_FALSE(r->event_source_arn);
  CHECK_FALSE(r->starting_position);
  CHECK_FALSE(r->starting_position_ts);
  CHECK_FALSE(r->topics);
  CHECK_FALSE(r->tags);
  CHECK_FALSE(r->bootstrap_servers);
  CHECK_FALSE(r->function_name);
  CHECK(r->batch_size == 7);
}

TEST_CASE("JSON null members count as absent") {
  auto r = parse_mapping_request(R"({"FunctionName":"f","BatchSize":null,"FilterCriteria":null,"KMSKeyArn":null})", true);
  REQUIRE(r);
  CHECK_FALSE(r->batch_size);
  CHECK_FALSE(r->filter_patterns);
  CHECK(r->present == std::set<std::string>{"FunctionName"});
  CHECK(r->extras_json == "{}");
}

TEST_CASE("an empty Update body is accepted and changes nothing") {
  for (const char* body : {"", "  \n", "{}"}) {
    auto r = parse_mapping_request(body, false);
    REQUIRE(r);
    CHECK(r->present.empty());
    CHECK_FALSE(r->enabled);
    CHECK_FALSE(r->batch_size);
    CHECK_FALSE(r->destinations);
    CHECK_FALSE(r->scaling_config_sent);
  }
}

TEST_CASE("empty FilterCriteria, ScalingConfig, FunctionResponseTypes and OnFailure are sent-but-empty") {
  auto r = parse_mapping_request(
      R"({"FilterCriteria":{},"ScalingConfig":{},"FunctionResponseTypes":[],"DestinationConfig":{"OnFailure":{}}})",
      false);
  REQUIRE(r);
  REQUIRE(r->filter_patterns);
  CHECK(r->filter_patterns->empty());
  CHECK(r->scaling_config_sent);
  CHECK_FALSE(r->maximum_concurrency);
  REQUIRE(r->response_types);
  CHECK(r->response_types->empty());
  REQUIRE(r->destinations);
  CHECK(r->destinations->on_failure == "");
  CHECK_FALSE(r->destinations->on_success);
}

TEST_CASE("a filter without a Pattern is kept as an empty pattern for the rule check") {
  auto r = parse_mapping_request(R"({"FilterCriteria":{"Filters":[{}]}})", false);
  REQUIRE(r);
  CHECK(r->filter_patterns == std::vector<std::string>{""});
}

TEST_CASE("a ConsumerGroupId inside a Kafka config block is noted") {
  auto r = parse_mapping_request(R"({"AmazonManagedKafkaEventSourceConfig":{"ConsumerGroupId":"g"}})", false);
  REQUIRE(r);
  CHECK(r->consumer_group_block == "AmazonManagedKafkaEventSourceConfig");
  auto none = parse_mapping_request(R"({"SelfManagedKafkaEventSourceConfig":{"SchemaRegistryConfig":{}}})", false);
  REQUIRE(none);
  CHECK_FALSE(none->consumer_group_block);
}

// ---- parse: malformed bodies and type errors -------------------------------------------------

TEST_CASE("a body that is not JSON is an InvalidParameterValue saying so") {
  Status s = parse_error(R"({"FunctionName": )");
  CHECK(s.code() == Code::kInvalidParameter);
  CHECK_THAT(s.message(), Catch::StartsWith("Could not parse request body into json: "));
  CHECK_THAT(s.message(), Catch::Contains("(at offset "));
}

TEST_CASE("a JSON body that is not an object is an InvalidParameterValue") {
  for (const char* body : {"[]", "42", "\"x\"", "null"}) {
    INFO(body);
    Status s = parse_error(body);
    CHECK(s.code() == Code::kInvalidParameter);
    CHECK(s.message() == "Could not parse request body into json: the body is not a JSON object");
  }
}

TEST_CASE("a member of the wrong JSON type is an InvalidParameterValue naming member and type") {
  struct Row {
    const char* body;
    const char* message;
  };
  const Row rows[] = {
      {R"({"FunctionName":5})", "Unexpected value type for 'FunctionName', expected a string"},
      {R"({"FunctionName":"f","BatchSize":"10"})", "Unexpected value type for 'BatchSize', expected an integer"},
      {R"({"FunctionName":"f","BatchSize":1.5})", "Unexpected value type for 'BatchSize', expected an integer"},
      {R"({"FunctionName":"f","Enabled":"yes"})", "Unexpected value type for 'Enabled', expected a boolean"},
      {R"({"FunctionName":"f","BisectBatchOnFunctionError":1})",
       "Unexpected value type for 'BisectBatchOnFunctionError', expected a boolean"},
      {R"({"FunctionName":"f","FilterCriteria":[]})", "Unexpected value type for 'FilterCriteria', expected an object"},
      {R"({"FunctionName":"f","FilterCriteria":{"Filters":{}}})",
       "Unexpected value type for 'FilterCriteria.Filters', expected a list"},
      {R"({"FunctionName":"f","FilterCriteria":{"Filters":[{"Pattern":{}}]}})",
       "Unexpected value type for 'FilterCriteria.Filters.Pattern', expected a string"},
      {R"({"FunctionName":"f","FunctionResponseTypes":[1]})",
       "Unexpected value type for 'FunctionResponseTypes', expected a list of strings"},
      {R"({"FunctionName":"f","Topics":"t"})", "Unexpected value type for 'Topics', expected a list"},
      {R"({"FunctionName":"f","Tags":{"a":1}})", "Unexpected value type for 'Tags', expected a map of strings"},
      {R"({"FunctionName":"f","StartingPositionTimestamp":"2024-01-01"})",
       "Unexpected value type for 'StartingPositionTimestamp', expected a timestamp in epoch seconds"},
      {R"({"FunctionName":"f","ScalingConfig":{"MaximumConcurrency":"5"}})",
       "Unexpected value type for 'ScalingConfig.MaximumConcurrency', expected an integer"},
      {R"({"FunctionName":"f","DestinationConfig":{"OnFailure":"arn"}})",
       "Unexpected value type for 'DestinationConfig.OnFailure', expected an object"},
      {R"({"FunctionName":"f","SelfManagedEventSource":{"Endpoints":{"KAFKA_BOOTSTRAP_SERVERS":"a:1"}}})",
       "Unexpected value type for 'SelfManagedEventSource.Endpoints', expected a list of strings"},
      {R"({"FunctionName":"f","SourceAccessConfigurations":[1]})",
       "Unexpected value type for 'SourceAccessConfigurations', expected a list of objects"},
      {R"({"FunctionName":"f","KMSKeyArn":false})", "Unexpected value type for 'KMSKeyArn', expected a string"},
  };
  for (const Row& row : rows) {
    INFO(row.body);
    Status s = parse_error(row.body);
    CHECK(s.code() == Code::kInvalidParameter);
    CHECK(s.message() == std::string("Could not parse request body into json: ") + row.message);
  }
}

TEST_CASE("a type error wins over range violations in the same body") {
  Status s = parse_error(R"({"FunctionName":"f","BatchSize":0,"Enabled":"no"})");
  CHECK(s.code() == Code::kInvalidParameter);
}

// ---- parse: model-layer ranges and enums -----------------------------------------------------

TEST_CASE("BatchSize 0 is a ValidationException in AWS's exact format") {
  Status s = parse_error(R"({"FunctionName":"f","BatchSize":0})");
  CHECK(s.code() == Code::kValidation);
  CHECK(s.message() ==
        "1 validation error detected: Value '0' at 'batchSize' failed to satisfy constraint: Member must have value "
        "greater than or equal to 1");
}

TEST_CASE("each numeric member outside its model range is a ValidationException naming it in lowerCamel") {
  struct Row {
    const char* member_json;
    const char* value;
    const char* path;
    const char* constraint;
  };
  const Row rows[] = {
      {R"("BatchSize":10001)", "10001", "batchSize", "less than or equal to 10000"},
      {R"("MaximumBatchingWindowInSeconds":301)", "301", "maximumBatchingWindowInSeconds", "less than or equal to 300"},
      {R"("MaximumBatchingWindowInSeconds":-1)", "-1", "maximumBatchingWindowInSeconds", "greater than or equal to 0"},
      {R"("ParallelizationFactor":11)", "11", "parallelizationFactor", "less than or equal to 10"},
      {R"("ParallelizationFactor":0)", "0", "parallelizationFactor", "greater than or equal to 1"},
      {R"("MaximumRetryAttempts":-2)", "-2", "maximumRetryAttempts", "greater than or equal to -1"},
      {R"("MaximumRetryAttempts":10001)", "10001", "maximumRetryAttempts", "less than or equal to 10000"},
      {R"("MaximumRecordAgeInSeconds":604801)", "604801", "maximumRecordAgeInSeconds", "less than or equal to 604800"},
      {R"("MaximumRecordAgeInSeconds":-2)", "-2", "maximumRecordAgeInSeconds", "greater than or equal to -1"},
      {R"("TumblingWindowInSeconds":901)", "901", "tumblingWindowInSeconds", "less than or equal to 900"},
      {R"("ScalingConfig":{"MaximumConcurrency":1})", "1", "scalingConfig.maximumConcurrency",
       "greater than or equal to 2"},
      {R"("ScalingConfig":{"MaximumConcurrency":1001})", "1001", "scalingConfig.maximumConcurrency",
       "less than or equal to 1000"},
      {R"("ProvisionedPollerConfig":{"MinimumPollers":0})", "0", "provisionedPollerConfig.minimumPollers",
       "greater than or equal to 1"},
      {R"("ProvisionedPollerConfig":{"MaximumPollers":2001})", "2001", "provisionedPollerConfig.maximumPollers",
       "less than or equal to 2000"},
      {R"("BatchSize":99999999999)", "99999999999", "batchSize", "less than or equal to 10000"},
  };
  for (const Row& row : rows) {
    INFO(row.member_json);
    Status s = parse_error(std::string(R"({"FunctionName":"f",)") + row.member_json + "}");
    CHECK(s.code() == Code::kValidation);
    CHECK(s.message() == std::string("1 validation error detected: Value '") + row.value + "' at '" + row.path +
                             "' failed to satisfy constraint: Member must have value " + row.constraint);
  }
}

TEST_CASE("the range edges are accepted") {
  auto r = parse_mapping_request(
      R"({"FunctionName":"f","BatchSize":10000,"MaximumBatchingWindowInSeconds":0,"ParallelizationFactor":10,)"
      R"("MaximumRetryAttempts":-1,"MaximumRecordAgeInSeconds":604800,"TumblingWindowInSeconds":900,)"
      R"("ScalingConfig":{"MaximumConcurrency":1000},"ProvisionedPollerConfig":{"MinimumPollers":200,"MaximumPollers":2000}})",
      true);
  REQUIRE(r);
  CHECK(r->batch_size == 10000);
  CHECK(r->maximum_concurrency == 1000);
}

TEST_CASE("several violations are listed in one message separated by semicolons") {
  Status s = parse_error(R"({"FunctionName":"f","BatchSize":0,"ParallelizationFactor":11})");
  CHECK(s.code() == Code::kValidation);
  CHECK(s.message() ==
        "2 validation errors detected: Value '0' at 'batchSize' failed to satisfy constraint: Member must have value "
        "greater than or equal to 1; Value '11' at 'parallelizationFactor' failed to satisfy constraint: Member must "
        "have value less than or equal to 10");
}

TEST_CASE("a missing FunctionName on Create is a null violation") {
  for (const char* body : {"{}", "", R"({"FunctionName":null})"}) {
    INFO(body);
    Status s = parse_error(body);
    CHECK(s.code() == Code::kValidation);
    CHECK(s.message() ==
          "1 validation error detected: Value null at 'functionName' failed to satisfy constraint: Member must not be "
          "null");
  }
}

TEST_CASE("a FunctionName that does not match the model pattern is a ValidationException with the pattern") {
  for (const std::string& name : {std::string("bad name"), std::string(""), std::string("a:b:c"), std::string(257, 'a')}) {
    INFO(name);
    Status s = parse_error(R"({"FunctionName":")" + name + "\"}");
    CHECK(s.code() == Code::kValidation);
    CHECK(s.message() ==
          "1 validation error detected: Value '" + name +
              "' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: "
              R"((arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?)"
              R"(([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?)");
  }
}

TEST_CASE("a StartingPosition outside the enum lists the values in AWS's order") {
  Status s = parse_error(R"({"FunctionName":"f","StartingPosition":"invalid"})");
  CHECK(s.code() == Code::kValidation);
  CHECK(s.message() ==
        "1 validation error detected: Value 'invalid' at 'startingPosition' failed to satisfy constraint: Member must "
        "satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]");
}

TEST_CASE("an unknown FunctionResponseTypes value is a nested enum violation") {
  Status s = parse_error(R"({"FunctionName":"f","FunctionResponseTypes":["Foo"]})");
  CHECK(s.code() == Code::kValidation);
  CHECK(s.message() ==
        "1 validation error detected: Value '[Foo]' at 'functionResponseTypes' failed to satisfy constraint: Member "
        "must satisfy constraint: [Member must satisfy enum value set: [ReportBatchItemFailures]]");
}

TEST_CASE("an EventSourceArn that is not an ARN is a pattern violation") {
  Status s = parse_error(R"({"FunctionName":"f","EventSourceArn":"orders"})");
  CHECK(s.code() == Code::kValidation);
  CHECK_THAT(s.message(), Catch::StartsWith("1 validation error detected: Value 'orders' at 'eventSourceArn' failed to "
                                            "satisfy constraint: Member must satisfy regular expression pattern: "));
}

TEST_CASE("opaque members are checked against their model enums and lengths") {
  CHECK_THAT(parse_error(R"({"FunctionName":"f","SourceAccessConfigurations":[{"Type":"NOPE","URI":"u"}]})").message(),
             Catch::Contains("Value 'NOPE' at 'sourceAccessConfigurations.member.type' failed to satisfy constraint: "
                             "Member must satisfy enum value set: [BASIC_AUTH, "));
  CHECK_THAT(parse_error(R"({"FunctionName":"f","Queues":["a","b"]})").message(),
             Catch::Contains("at 'queues' failed to satisfy constraint: Member must have length less than or equal to 1"));
  CHECK_THAT(parse_error(R"({"FunctionName":"f","Topics":[]})").message(),
             Catch::Contains("at 'topics' failed to satisfy constraint: Member must have length greater than or equal to 1"));
  CHECK_THAT(parse_error(R"({"FunctionName":"f","LoggingConfig":{"SystemLogLevel":"TRACE"}})").message(),
             Catch::Contains("Value 'TRACE' at 'loggingConfig.systemLogLevel'"));
  CHECK_THAT(parse_error(R"({"FunctionName":"f","MetricsConfig":{"Metrics":["Nope"]}})").message(),
             Catch::Contains("Value 'Nope' at 'metricsConfig.metrics.member'"));
  CHECK_THAT(parse_error(R"({"FunctionName":"f","KMSKeyArn":"key"})").message(),
             Catch::Contains("Value 'key' at 'kMSKeyArn'"));
  CHECK_THAT(parse_error(R"({"FunctionName":"f","DestinationConfig":{"OnFailure":{"Destination":"queue"}}})").message(),
             Catch::Contains("Value 'queue' at 'destinationConfig.onFailure.destination'"));
  CHECK_THAT(
      parse_error(R"({"FunctionName":"f","SelfManagedEventSource":{"Endpoints":{"KAFKA_BOOTSTRAP_SERVERS":[]}}})")
          .message(),
      Catch::Contains("at 'selfManagedEventSource.endpoints.") &&
          Catch::EndsWith("failed to satisfy constraint: Member must have length greater than or equal to 1"));
}

// ---- extras helpers --------------------------------------------------------------------------

TEST_CASE("merging extras replaces members but keeps a stored ConsumerGroupId inside a Kafka block") {
  const std::string base =
      R"({"KMSKeyArn":"arn:aws:kms:::a","SelfManagedKafkaEventSourceConfig":{"ConsumerGroupId":"g"}})";
  const std::string patch =
      R"({"KMSKeyArn":"arn:aws:kms:::b","SelfManagedKafkaEventSourceConfig":{"SchemaRegistryConfig":{"x":1}},"Queues":["q"]})";
  auto merged = parse_json(merge_extras(base, patch));
  CHECK(std::string(merged["KMSKeyArn"].GetString()) == "arn:aws:kms:::b");
  CHECK(std::string(merged["SelfManagedKafkaEventSourceConfig"]["ConsumerGroupId"].GetString()) == "g");
  CHECK(merged["SelfManagedKafkaEventSourceConfig"]["SchemaRegistryConfig"]["x"].GetInt() == 1);
  CHECK(std::string(merged["Queues"][0].GetString()) == "q");
  CHECK(merge_extras(base, "{}") == base);
}

TEST_CASE("a default consumer group is set only where none was given") {
  const std::string with = with_default_consumer_group("{}", "AmazonManagedKafkaEventSourceConfig", "uuid-1");
  CHECK(consumer_group_of(with, "AmazonManagedKafkaEventSourceConfig") == "uuid-1");
  const std::string kept = with_default_consumer_group(R"({"AmazonManagedKafkaEventSourceConfig":{"ConsumerGroupId":"mine"}})",
                                                       "AmazonManagedKafkaEventSourceConfig", "uuid-1");
  CHECK(consumer_group_of(kept, "AmazonManagedKafkaEventSourceConfig") == "mine");
  CHECK(consumer_group_of("{}", "AmazonManagedKafkaEventSourceConfig").empty());
}

TEST_CASE("extras_has reports stored members") {
  CHECK(extras_has(R"({"KMSKeyArn":"k"})", "KMSKeyArn"));
  CHECK_FALSE(extras_has("{}", "KMSKeyArn"));
  CHECK_FALSE(extras_has("not json", "KMSKeyArn"));
}

TEST_CASE("MinimumPollers above MaximumPollers is an InvalidParameterValue") {
  CHECK(check_poller_bounds(R"({"ProvisionedPollerConfig":{"MinimumPollers":2,"MaximumPollers":2}})", SourceKind::kSqs)
            .is_ok());
  CHECK(check_poller_bounds("{}", SourceKind::kSqs).is_ok());
  Status s = check_poller_bounds(R"({"ProvisionedPollerConfig":{"MinimumPollers":3,"MaximumPollers":2}})",
                                 SourceKind::kSelfManagedKafka);
  CHECK(s.code() == Code::kInvalidParameter);
  CHECK(s.message() ==
        "The minimum number of pollers (MinimumPollers) must be less than or equal to the maximum number of pollers "
        "(MaximumPollers).");
}

TEST_CASE("an absent poller bound takes its default before the two are compared") {
  // MaximumPollers defaults to 200 for every source.
  CHECK(check_poller_bounds(R"({"ProvisionedPollerConfig":{"MinimumPollers":200}})", SourceKind::kMsk).is_ok());
  CHECK(check_poller_bounds(R"({"ProvisionedPollerConfig":{"MaximumPollers":1}})", SourceKind::kMsk).is_ok());
}

TEST_CASE("SQS needs at least two pollers each way while Kafka may have one") {
  for (const char* member : {"MinimumPollers", "MaximumPollers"}) {
    const std::string extras = std::string(R"({"ProvisionedPollerConfig":{")") + member + R"(":1}})";
    INFO(extras);
    Status s = check_poller_bounds(extras, SourceKind::kSqs);
    CHECK(s.code() == Code::kInvalidParameter);
    CHECK(s.message() == std::string("1 validation error detected: Value '1' at 'provisionedPollerConfig.") +
                             static_cast<char>(member[0] + ('a' - 'A')) + (member + 1) +
                             "' failed to satisfy constraint: Member must have value greater than or equal to 2");
    CHECK(check_poller_bounds(extras, SourceKind::kSelfManagedKafka).is_ok());
    CHECK(check_poller_bounds(extras, SourceKind::kMsk).is_ok());
  }
}

TEST_CASE("a poller group is for Kafka only") {
  const std::string extras = R"({"ProvisionedPollerConfig":{"MinimumPollers":2,"PollerGroupName":"g"}})";
  Status s = check_poller_bounds(extras, SourceKind::kSqs);
  CHECK(s.code() == Code::kInvalidParameter);
  CHECK(s.message() == "Unsupported PollerGroupName parameter for given event source mapping type.");
  CHECK(check_poller_bounds(extras, SourceKind::kMsk).is_ok());
}

// ---- encode ----------------------------------------------------------------------------------

TEST_CASE("LastModified is epoch seconds with a three-digit millisecond fraction") {
  CHECK(epoch_seconds(1'732'900'705'225) == "1732900705.225");
  CHECK(epoch_seconds(1'732'900'705'000) == "1732900705.000");
  CHECK(epoch_seconds(5) == "0.005");
  CHECK(epoch_seconds(0) == "0.000");
  CHECK(epoch_seconds(-1) == "-0.001");
  CHECK(epoch_seconds(-1'500) == "-1.500");
  CHECK(epoch_seconds(INT64_MIN) == "-9223372036854775.808");
}

TEST_CASE("LastModified is written as a JSON number, not a string") {
  const std::string body = encode_mapping(sqs_defaults());
  CHECK_THAT(body, Catch::Contains(R"("LastModified":1732900705.225)"));
  auto d = parse_json(body);
  CHECK(d["LastModified"].IsNumber());
}

TEST_CASE("an SQS mapping shows the fields of the recorded SQS Create response") {
  auto d = parse_json(encode_mapping(sqs_defaults()));
  CHECK(keys_of(d) == std::set<std::string>{"BatchSize", "EventSourceArn", "EventSourceMappingArn", "FunctionArn",
                                            "FunctionResponseTypes", "LastModified",
                                            "MaximumBatchingWindowInSeconds", "State", "StateTransitionReason", "UUID"});
  CHECK(d["BatchSize"].GetInt() == 10);
  CHECK(d["MaximumBatchingWindowInSeconds"].GetInt() == 0);
  CHECK(d["FunctionResponseTypes"].IsArray());
  CHECK(d["FunctionResponseTypes"].Empty());
  CHECK(std::string(d["State"].GetString()) == "Creating");
  CHECK(std::string(d["StateTransitionReason"].GetString()) == "USER_INITIATED");
  CHECK(std::string(d["EventSourceMappingArn"].GetString()) ==
        "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f");
}

TEST_CASE("a Kinesis mapping shows the stream defaults with an empty OnFailure") {
  auto d = parse_json(encode_mapping(kinesis_defaults()));
  CHECK(keys_of(d) == std::set<std::string>{"BatchSize", "BisectBatchOnFunctionError", "DestinationConfig",
                                            "EventSourceArn", "EventSourceMappingArn", "FunctionArn",
                                            "FunctionResponseTypes", "LastModified", "LastProcessingResult",
                                            "MaximumBatchingWindowInSeconds", "MaximumRecordAgeInSeconds",
                                            "MaximumRetryAttempts", "ParallelizationFactor", "StartingPosition",
                                            "State", "StateTransitionReason", "TumblingWindowInSeconds", "UUID"});
  CHECK(d["BatchSize"].GetInt() == 100);
  CHECK(d["BisectBatchOnFunctionError"].IsFalse());
  CHECK(keys_of(d["DestinationConfig"]) == std::set<std::string>{"OnFailure"});
  CHECK(d["DestinationConfig"]["OnFailure"].ObjectEmpty());
  CHECK(d["MaximumRecordAgeInSeconds"].GetInt() == -1);
  CHECK(d["MaximumRetryAttempts"].GetInt() == -1);
  CHECK(d["ParallelizationFactor"].GetInt() == 1);
  CHECK(d["TumblingWindowInSeconds"].GetInt() == 0);
  CHECK(std::string(d["LastProcessingResult"].GetString()) == "No records processed");
  CHECK(std::string(d["StateTransitionReason"].GetString()) == "User action");
}

TEST_CASE("a self-managed Kafka mapping shows its endpoints, topics, access and consumer group, no EventSourceArn") {
  auto d = parse_json(encode_mapping(kafka_defaults()));
  CHECK(keys_of(d) == std::set<std::string>{"BatchSize", "EventSourceMappingArn", "FunctionArn", "LastModified",
                                            "LastProcessingResult", "SelfManagedEventSource",
                                            "SelfManagedKafkaEventSourceConfig", "SourceAccessConfigurations",
                                            "StartingPosition", "State", "StateTransitionReason", "Topics", "UUID"});
  CHECK(std::string(d["SelfManagedEventSource"]["Endpoints"]["KAFKA_BOOTSTRAP_SERVERS"][0].GetString()) ==
        "kafka:1000");
  CHECK(std::string(d["SelfManagedKafkaEventSourceConfig"]["ConsumerGroupId"].GetString()) ==
        "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f");
  CHECK(std::string(d["Topics"][0].GetString()) == "topic");
  CHECK(std::string(d["StartingPosition"].GetString()) == "TRIM_HORIZON");
}

TEST_CASE("an MSK mapping shows its cluster ARN and no SelfManagedEventSource") {
  Mapping m = kafka_defaults();
  m.kind = SourceKind::kMsk;
  m.event_source_arn = "arn:aws:kafka:us-east-1:123456789012:cluster/c/abc";
  m.bootstrap_servers.clear();
  m.extras_json = R"({"AmazonManagedKafkaEventSourceConfig":{"ConsumerGroupId":"g"}})";
  auto d = parse_json(encode_mapping(m));
  CHECK(d.HasMember("EventSourceArn"));
  CHECK(d.HasMember("AmazonManagedKafkaEventSourceConfig"));
  CHECK_FALSE(d.HasMember("SelfManagedEventSource"));
  CHECK_FALSE(d.HasMember("SourceAccessConfigurations"));
}

TEST_CASE("optional members appear when set, with their values") {
  Mapping m = sqs_defaults();
  m.report_batch_item_failures = true;
  m.maximum_concurrency = 2;
  m.filter_patterns = {R"({"body":{"a":[1]}})"};
  auto d = parse_json(encode_mapping(m));
  REQUIRE(d["FunctionResponseTypes"].Size() == 1);
  CHECK(std::string(d["FunctionResponseTypes"][0].GetString()) == "ReportBatchItemFailures");
  CHECK(d["ScalingConfig"]["MaximumConcurrency"].GetInt() == 2);
  REQUIRE(d["FilterCriteria"]["Filters"].Size() == 1);
  CHECK(d["FilterCriteria"]["Filters"][0]["Pattern"].IsString());
  CHECK(std::string(d["FilterCriteria"]["Filters"][0]["Pattern"].GetString()) == R"({"body":{"a":[1]}})");
}

TEST_CASE("an AT_TIMESTAMP mapping shows its timestamp as a number") {
  Mapping m = kinesis_defaults();
  m.starting_position = "AT_TIMESTAMP";
  m.starting_position_ts = 1700000000.5;
  auto d = parse_json(encode_mapping(m));
  CHECK(d["StartingPositionTimestamp"].GetDouble() == 1700000000.5);
}

TEST_CASE("both destinations are shown when set") {
  Mapping m = kinesis_defaults();
  m.destinations = Destinations{"arn:aws:sqs:us-east-1:123456789012:ok", "arn:aws:sqs:us-east-1:123456789012:dlq"};
  auto d = parse_json(encode_mapping(m));
  CHECK(std::string(d["DestinationConfig"]["OnSuccess"]["Destination"].GetString()) ==
        "arn:aws:sqs:us-east-1:123456789012:ok");
  CHECK(std::string(d["DestinationConfig"]["OnFailure"]["Destination"].GetString()) ==
        "arn:aws:sqs:us-east-1:123456789012:dlq");
}

TEST_CASE("FilterCriteria is omitted when there are no filters") {
  auto d = parse_json(encode_mapping(sqs_defaults()));
  CHECK_FALSE(d.HasMember("FilterCriteria"));
}

TEST_CASE("List omits FilterCriteria of a mapping with a KMS key; Get shows it") {
  Mapping m = sqs_defaults();
  m.filter_patterns = {R"({"a":[1]})"};
  m.extras_json = R"({"KMSKeyArn":"arn:aws:kms:us-east-1:123456789012:key/k"})";
  CHECK(parse_json(encode_mapping(m, false)).HasMember("FilterCriteria"));
  auto listed = parse_json(encode_mapping(m, true));
  CHECK_FALSE(listed.HasMember("FilterCriteria"));
  CHECK(listed.HasMember("KMSKeyArn"));
  m.extras_json = "{}";
  CHECK(parse_json(encode_mapping(m, true)).HasMember("FilterCriteria"));
}

TEST_CASE("the encoded configuration never carries Tags or null values") {
  const std::string body = encode_mapping(kafka_defaults());
  CHECK_THAT(body, !Catch::Contains("Tags"));
  CHECK_THAT(body, !Catch::Contains("null"));
}

TEST_CASE("encode_mapping_into appends to what is already there") {
  std::string out = "[";
  encode_mapping_into(out, sqs_defaults(), true);
  CHECK_THAT(out, Catch::StartsWith("[{\"UUID\":"));
}

TEST_CASE("a mapping is encoded byte for byte as rapidjson's Writer writes the same JSON") {
  // Every optional member set, strings that need escaping, a fractional timestamp, nested and
  // typed extras: what we write, parsed and written again by rapidjson, comes out the same.
  Mapping m = kafka_defaults();
  m.kind = SourceKind::kSelfManagedKafka;
  m.state_reason = "quote \" backslash \\ tab \t nl \n ctl \x01 del \x7f \xc3\xa9 \xe2\x82\xac";
  m.batching_window_s = 7;
  m.parallelization_factor = 3;
  m.maximum_retry_attempts = -1;
  m.maximum_record_age_s = 604800;
  m.bisect_on_error = true;
  m.tumbling_window_s = 900;
  m.starting_position = "AT_TIMESTAMP";
  m.starting_position_ts = 1732900705.125;
  m.filter_patterns = {R"({"body":{"a":["x\"y"]}})", R"({"data":{"n":[{"numeric":[">",1.5]}]}})"};
  m.report_batch_item_failures = true;
  m.maximum_concurrency = 1000;
  m.destinations = Destinations{std::string("arn:aws:sqs:us-east-1:123456789012:ok"),
                                std::string("arn:aws:sqs:us-east-1:123456789012:failed")};
  m.topics = {"a", "b\"c"};
  m.bootstrap_servers = {"k1:9092", "k2:9092"};
  m.last_processing_result = "PROBLEM: Function call failed";
  m.last_modified_ms = 1732900705009;
  m.extras_json =
      R"({"KMSKeyArn":"arn:aws:kms:us-east-1:123456789012:key/k","MetricsConfig":{"Metrics":["EventCount"]},)"
      R"("ProvisionedPollerConfig":{"MinimumPollers":1,"MaximumPollers":2000},"X":{"d":0.1,"e":-2.5e-7,"big":1e300,)"
      R"("n":null,"t":true,"f":false,"i":-9007199254740993,"u":18446744073709551615,"s":"\u0000\u001f","a":[[],{}]}})";
  for (bool in_list : {false, true}) {
    const std::string ours = encode_mapping(m, in_list);
    rapidjson::Document d;
    d.Parse(ours.c_str(), ours.size());
    REQUIRE_FALSE(d.HasParseError());
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    d.Accept(w);
    CHECK(ours == std::string(buf.GetString(), buf.GetSize()));
    CHECK(d["StartingPositionTimestamp"].GetDouble() == 1732900705.125);
    CHECK(d["StateTransitionReason"].GetString() == m.state_reason);
  }
  CHECK_THAT(encode_mapping(m), Catch::Contains(R"("LastModified":1732900705.009)"));
}
