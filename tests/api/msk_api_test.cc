// The MSK front-end as a plain function from request to response: GetBootstrapBrokers from a
// cluster directory, and every other kafka path answered in the service's error shape.

#include <catch2/catch.hpp>

#include <string>

#include "api/msk_api.h"

using namespace esm;
using namespace esm::api;

namespace {

const std::string kNamed = "arn:aws:kafka:us-east-1:000000000000:cluster/orders/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f-1";
const std::string kNamedEncoded =
    "arn%3Aaws%3Akafka%3Aus-east-1%3A000000000000%3Acluster%2Forders%2F6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f-1";
const std::string kUnnamedEncoded = "arn%3Aaws%3Akafka%3Aeu-west-1%3A000000000000%3Acluster%2Fother%2Fabc";

Request get(const std::string& target, const std::string& method = "GET") {
  Request r;
  r.method = method;
  r.target = target;
  split_target(r);
  return r;
}

std::string header(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "<absent>";
}

}  // namespace

TEST_CASE("the kafka service's paths are claimed and Lambda's and esmd's own are not") {
  CHECK(MskApi::matches(get("/v1/clusters/" + kNamedEncoded + "/bootstrap-brokers")));
  CHECK(MskApi::matches(get("/v1/clusters")));
  CHECK(MskApi::matches(get("/api/v2/clusters")));
  CHECK(MskApi::matches(get("/replication/v1/replicators")));
  CHECK_FALSE(MskApi::matches(get("/2015-03-31/event-source-mappings/")));
  CHECK_FALSE(MskApi::matches(get("/2017-03-31/tags/x")));
  CHECK_FALSE(MskApi::matches(get("/_esmd/health")));
  CHECK_FALSE(MskApi::matches(get("/")));
  CHECK_FALSE(MskApi::matches(get("/v1")));
}

TEST_CASE("GetBootstrapBrokers answers a named cluster's brokers, else esmd's own broker") {
  kafka::ClusterDirectory clusters({{kNamed, "b-1:9092,b-2:9092"}});
  clusters.set_own_broker("127.0.0.1:9092");
  const MskApi api(clusters);
  Response named = api.answer(get("/v1/clusters/" + kNamedEncoded + "/bootstrap-brokers"));
  CHECK(named.status == 200);
  CHECK(named.body == R"({"bootstrapBrokerString":"b-1:9092,b-2:9092"})");
  // An ARN whose `/` was not encoded is the same ARN.
  CHECK(api.answer(get("/v1/clusters/" + kNamed + "/bootstrap-brokers")).body == named.body);
  Response own = api.answer(get("/v1/clusters/" + kUnnamedEncoded + "/bootstrap-brokers?x=1"));
  CHECK(own.status == 200);
  CHECK(own.body == R"({"bootstrapBrokerString":"127.0.0.1:9092"})");
}

TEST_CASE("without esmd's broker an unnamed cluster is NotFoundException") {
  kafka::ClusterDirectory clusters({{kNamed, "b-1:9092"}});
  const MskApi api(clusters);
  CHECK(api.answer(get("/v1/clusters/" + kNamedEncoded + "/bootstrap-brokers")).status == 200);
  Response r = api.answer(get("/v1/clusters/" + kUnnamedEncoded + "/bootstrap-brokers"));
  CHECK(r.status == 404);
  CHECK(header(r, "x-amzn-ErrorType") == "NotFoundException");
  CHECK(r.body ==
        R"({"invalidParameter":"clusterArn","message":"The cluster arn:aws:kafka:eu-west-1:000000000000:cluster/other/abc )"
        R"(does not exist: esmd runs no Kafka broker (--kafka-port off) and no --msk-cluster names it."})");
}

TEST_CASE("a malformed cluster ARN is BadRequestException naming clusterArn") {
  kafka::ClusterDirectory clusters;
  clusters.set_own_broker("127.0.0.1:9092");
  const MskApi api(clusters);
  for (const char* arn : {"nope", "", "arn%3Aaws%3Akafka%3Aus-east-1%3A000000000000%3Acluster%2Forders",
                          "arn%3Aaws%3Asqs%3Aus-east-1%3A000000000000%3Aq", "%FF%00"}) {
    INFO(arn);
    Response r = api.answer(get(std::string("/v1/clusters/") + arn + "/bootstrap-brokers"));
    CHECK(r.status == 400);
    CHECK(header(r, "x-amzn-ErrorType") == "BadRequestException");
    CHECK_THAT(r.body, Catch::StartsWith(R"({"invalidParameter":"clusterArn","message":"The cluster ARN ')"));
  }
}

TEST_CASE("kafka operations esmd does not serve are UnknownOperationException in the kafka shape") {
  kafka::ClusterDirectory clusters;
  const MskApi api(clusters);
  for (const auto& [method, target] : {std::pair<std::string, std::string>{"GET", "/v1/clusters"},
                                       {"GET", "/v1/clusters/" + kNamedEncoded},
                                       {"POST", "/v1/clusters/" + kNamedEncoded + "/bootstrap-brokers"},
                                       {"GET", "/api/v2/clusters"}}) {
    INFO(method << " " << target);
    Response r = api.answer(get(target, method));
    CHECK(r.status == 404);
    CHECK(header(r, "x-amzn-ErrorType") == "UnknownOperationException");
    CHECK_THAT(r.body, Catch::StartsWith(R"({"message":"esmd emulates only GetBootstrapBrokers)"));
  }
}
