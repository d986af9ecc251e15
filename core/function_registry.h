#pragma once
// FunctionRegistry: the functions esmd knows how to invoke, by name. Shared by api/ (lookup,
// registration) and pollers/ (invocation); guarded by a shared mutex, so any thread may call.

#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/function.h"

namespace esm {

class FunctionRegistry {
 public:
  // Parallel invocations allowed to an invoke-endpoint function unless it is registered.
  static constexpr int kDefaultInvokeEndpointConcurrency = 10;
  // Their timeout unless registered: Lambda's maximum, since the runtime behind the endpoint
  // (`sam local start-lambda` from the template, an RIE from AWS_LAMBDA_FUNCTION_TIMEOUT)
  // knows and enforces the function's own and reports it as Lambda does.
  static constexpr int kDefaultInvokeEndpointTimeoutMs = 900'000;

  // With a non-empty invoke_endpoint, every name resolves: unregistered names are invoked at
  // ENDPOINT/2015-03-31/functions/{name}/invocations, as `sam local start-lambda` serves them,
  // up to invoke_endpoint_concurrency at a time. Lambda runs a function without reserved
  // concurrency as often in parallel as its pollers ask, and `sam local start-lambda` serves
  // concurrent invocations; a registered http target keeps its own Concurrency (1 by
  // default, for an RIE).
  explicit FunctionRegistry(std::string invoke_endpoint = {},
                            int invoke_endpoint_concurrency = kDefaultInvokeEndpointConcurrency,
                            int invoke_endpoint_timeout_ms = kDefaultInvokeEndpointTimeoutMs)
      : invoke_endpoint_(std::move(invoke_endpoint)),
        invoke_endpoint_concurrency_(invoke_endpoint_concurrency),
        invoke_endpoint_timeout_ms_(invoke_endpoint_timeout_ms) {}

  void put(FunctionSpec f);
  bool remove(const std::string& name);
  // The registered function, or the invoke-endpoint fallback, or nullopt.
  std::optional<FunctionSpec> find(const std::string& name) const;
  std::vector<FunctionSpec> list() const;
  bool exists(const std::string& name) const { return find(name).has_value(); }

 private:
  std::string invoke_endpoint_;
  int invoke_endpoint_concurrency_;
  int invoke_endpoint_timeout_ms_;
  mutable std::shared_mutex mu_;
  std::map<std::string, FunctionSpec> functions_;
};

}  // namespace esm
