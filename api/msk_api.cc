#include "api/msk_api.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string_view>

#include "api/errors.h"
#include "core/arn.h"

namespace esm::api {
namespace {

constexpr std::string_view kClustersPath = "/v1/clusters/";
constexpr std::string_view kBootstrapBrokers = "/bootstrap-brokers";

struct ErrorShape {
  int status;
  const char* type;
};

ErrorShape shape_of(MskError e) {
  switch (e) {
    case MskError::kBadRequest: return {400, "BadRequestException"};
    case MskError::kNotFound: return {404, "NotFoundException"};
    case MskError::kUnknownOperation: break;
  }
  return {404, "UnknownOperationException"};
}

// The path as sent: the ARN's `/` and `:` arrive percent-encoded (botocore encodes a label
// whole), so the route is cut before decoding.
std::string_view raw_path(const Request& req) {
  const std::string_view target = req.target;
  return target.substr(0, target.find('?'));
}

}  // namespace

Response msk_error(MskError e, const std::string& message, const std::string& invalid_parameter) {
  const ErrorShape shape = shape_of(e);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  if (!invalid_parameter.empty()) {
    w.Key("invalidParameter");
    w.String(invalid_parameter);
  }
  w.Key("message");
  w.String(message);
  w.EndObject();
  Response r;
  r.status = shape.status;
  r.headers.emplace_back("x-amzn-ErrorType", shape.type);
  r.body.assign(buf.GetString(), buf.GetSize());
  return r;
}

bool MskApi::matches(const Request& req) {
  const std::string_view path = raw_path(req);
  return path.starts_with("/v1/") || path.starts_with("/api/v2/") || path.starts_with("/replication/v1/");
}

Response MskApi::answer(const Request& req) const {
  const std::string_view path = raw_path(req);
  if (req.method == "GET" && path.starts_with(kClustersPath) && path.ends_with(kBootstrapBrokers) &&
      path.size() >= kClustersPath.size() + kBootstrapBrokers.size()) {
    // A hand-written URL may leave the ARN's `/` unencoded: everything between the two is the ARN.
    const std::string_view arn =
        path.substr(kClustersPath.size(), path.size() - kClustersPath.size() - kBootstrapBrokers.size());
    return get_bootstrap_brokers(percent_decode(arn, false));
  }
  return msk_error(MskError::kUnknownOperation,
                   "esmd emulates only GetBootstrapBrokers (GET /v1/clusters/{clusterArn}/bootstrap-brokers) of "
                   "Amazon MSK, not " + req.method + " " + printable(req.path));
}

Response MskApi::get_bootstrap_brokers(const std::string& cluster_arn) const {
  if (!is_msk_cluster_arn(cluster_arn))
    return msk_error(MskError::kBadRequest,
                     "The cluster ARN '" + printable(cluster_arn) +
                         "' is not valid: expected arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID.",
                     "clusterArn");
  const std::string brokers = clusters_.msk_bootstrap(cluster_arn);
  if (brokers.empty())
    return msk_error(MskError::kNotFound,
                     "The cluster " + cluster_arn +
                         " does not exist: esmd runs no Kafka broker (--kafka-port off) and no --msk-cluster names it.",
                     "clusterArn");
  // Only the plaintext string: esmd's broker and the clusters --msk-cluster names speak
  // PLAINTEXT, and botocore leaves the members that are not sent out of the answer.
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("bootstrapBrokerString");
  w.String(brokers);
  w.EndObject();
  Response r;
  r.body.assign(buf.GetString(), buf.GetSize());
  return r;
}

}  // namespace esm::api
