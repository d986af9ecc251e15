#pragma once
// esmd's own routes under /_esmd: health, and the function registry (server issue §6).
// Errors use the Lambda error table. Threading as LambdaApi.

#include <string>

#include "api/http.h"
#include "core/function_registry.h"
#include "storage/db_worker.h"

namespace esm::api {

class AdminApi {
 public:
  AdminApi(storage::DbWorker& db, FunctionRegistry& functions, std::string version)
      : db_(db), functions_(functions), version_(std::move(version)) {}

  static bool matches(const Request& req) { return req.path.starts_with("/_esmd/"); }
  void handle(Request req, Reply reply);

 private:
  storage::DbWorker& db_;
  FunctionRegistry& functions_;
  std::string version_;
};

// Parses a registration body {"Target": "...", "Timeout": seconds, "Concurrency": n}.
Result<FunctionSpec> parse_function_registration(const std::string& name, const std::string& body);

}  // namespace esm::api
