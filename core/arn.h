#pragma once
// Amazon Resource Names: parsing, building, and Lambda's FunctionName forms (CP §9).

#include <optional>
#include <string>
#include <string_view>

namespace esm {

struct Arn {
  std::string partition;
  std::string service;
  std::string region;
  std::string account;
  std::string resource;  // everything after the fifth colon
};

// nullopt unless `s` has the arn:partition:service:region:account:resource form.
std::optional<Arn> parse_arn(std::string_view s);

std::string function_arn(std::string_view region, std::string_view account, std::string_view name,
                         std::string_view qualifier = {});
std::string mapping_arn(std::string_view region, std::string_view account, std::string_view uuid);

// A FunctionName as sent: `name`, `name:qualifier`, `account:function:name[:qualifier]` or a
// full ARN. Region and account are empty when the form does not carry them.
struct FunctionRef {
  std::string name;
  std::string qualifier;
  std::string region;
  std::string account;
};
std::optional<FunctionRef> parse_function_ref(std::string_view s);

// An Amazon MSK cluster ARN: arn:PARTITION:kafka:REGION:ACCOUNT:cluster/NAME/ID, where NAME is
// 1 to 64 letters, digits, '-' or '_' and ID the cluster's UUID as MSK prints it (a UUID and a
// "-N" suffix), taken as letters, digits and '-'. Lambda's CreateEventSourceMapping recognises
// an MSK source by its service and "cluster/" prefix alone (api/lambda_api.cc classify_source);
// this is the full form that --msk-cluster and GetBootstrapBrokers take.
bool is_msk_cluster_arn(std::string_view s);

// The last component of an SQS / Kinesis / DynamoDB ARN (queue name, stream name...).
std::string resource_name(const Arn& arn);

}  // namespace esm
