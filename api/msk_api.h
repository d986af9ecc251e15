#pragma once
// MskApi: the Amazon MSK control plane (service "kafka", REST-JSON, botocore's kafka/2018-11-14)
// as far as esmd emulates it: GetBootstrapBrokers, `GET /v1/clusters/{clusterArn}/bootstrap-
// brokers`, answered from the ClusterDirectory (services/kafka/cluster_directory.h) so that
// `aws kafka get-bootstrap-brokers` names the brokers an MSK mapping of that cluster reads.
// Every other operation of the service gets UnknownOperationException in the service's error
// shape. All of MSK's wording lives here.
//
// Threading: answer() from any I/O thread; the directory is read-only once the I/O threads run.

#include <string>

#include "api/http.h"
#include "services/kafka/cluster_directory.h"

namespace esm::api {

// The errors of the kafka service esmd sends: its modeled BadRequestException (400) and
// NotFoundException (404), and UnknownOperationException (404) for the operations esmd does
// not serve. The body is `{"message": ...}` plus `"invalidParameter"` when one is named; the
// type is in x-amzn-ErrorType.
enum class MskError { kBadRequest, kNotFound, kUnknownOperation };
Response msk_error(MskError e, const std::string& message, const std::string& invalid_parameter = {});

class MskApi {
 public:
  // clusters: owned by the Kafka source, outlives this.
  explicit MskApi(const kafka::ClusterDirectory& clusters) : clusters_(clusters) {}

  // Whether the request is on one of the kafka service's paths (/v1/, /api/v2/,
  // /replication/v1/); no other esmd route starts with them.
  static bool matches(const Request& req);
  Response answer(const Request& req) const;

 private:
  Response get_bootstrap_brokers(const std::string& cluster_arn) const;

  const kafka::ClusterDirectory& clusters_;
};

}  // namespace esm::api
