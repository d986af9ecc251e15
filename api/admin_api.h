#pragma once
// esmd's own routes under /_esmd: health, the function registry (server issue §6), and the
// invocation log (issue 3 §2). Errors use the Lambda error table. Threading as LambdaApi.
//
//   GET    /_esmd/health
//   GET    /_esmd/functions                  PUT|GET|DELETE /_esmd/functions/{name}
//          A PUT naming an exec: target is refused (403 AccessDeniedException) unless esmd runs
//          with --allow-api-exec: commands come from the operator (README "Security").
//   POST   /_esmd/functions/{name}/invoke    body = the event; ?Qualifier= optional. Answers
//          200 {"Outcome","StatusCode","FunctionError","Payload","ExecutedVersion","RequestId",
//          "DurationMs","Detail"} once the invocation finished, whatever its outcome.
//   GET    /_esmd/invocations                ?function=NAME|ARN &mapping=UUID &limit=1..10000
//          (default 100) &since=SEQ. {"Invocations":[...],"LastSeq":n}, oldest first. Without
//          `since` the newest `limit` entries; with it the oldest `limit` entries after SEQ, so
//          that a client can walk forward from the LastSeq it saw before acting.
//   DELETE /_esmd/invocations                clears the log (seq numbers keep increasing)
//   GET    /_esmd/destinations               ?arn=ARN (optional). What stream pollers delivered to
//          on-failure destinations esmd does not host (SNS topics, S3 buckets), oldest first:
//          {"Entries":[{"Seq","Time","Arn","MappingUUID","Key","Body"}]}. Key is the S3 object
//          key or the SNS MessageId; Body the object or the notification's Message, as text.

#include <functional>
#include <string>

#include "api/http.h"
#include "core/destination_log.h"
#include "core/function_registry.h"
#include "core/invocation_log.h"
#include "core/invoke.h"
#include "storage/db_worker.h"

namespace esm::api {

class AdminApi {
 public:
  // account: for the ARN of a function invoked through /_esmd/functions/{name}/invoke.
  AdminApi(storage::DbWorker& db, FunctionRegistry& functions, InvocationLog& invocations, Invoker& invoker,
           std::string version, std::string account)
      : db_(db),
        functions_(functions),
        invocations_(invocations),
        invoker_(invoker),
        version_(std::move(version)),
        account_(std::move(account)) {}

  static bool matches(const Request& req) { return req.path.starts_with("/_esmd/"); }
  void set_destinations(const DestinationLog* log) { destinations_ = log; }
  void set_allow_exec(bool allow) { allow_exec_ = allow; }
  // Members GET /_esmd/health adds (the sources' listeners), as `"name":value` JSON.
  void set_health_extra(std::function<std::string()> fn) { health_extra_ = std::move(fn); }
  void handle(Request req, Reply reply);

 private:
  void invoke(const std::string& name, Request& req, Reply reply);
  void list_invocations(const Request& req, Reply reply);
  void list_destinations(const Request& req, Reply reply);

  storage::DbWorker& db_;
  FunctionRegistry& functions_;
  InvocationLog& invocations_;
  Invoker& invoker_;
  std::string version_;
  std::string account_;
  const DestinationLog* destinations_ = nullptr;
  bool allow_exec_ = false;
  std::function<std::string()> health_extra_;
};

// Parses a registration body {"Target": "...", "Timeout": seconds, "Concurrency": n}.
Result<FunctionSpec> parse_function_registration(const std::string& name, const std::string& body);
// The refusal of an exec: target registered over HTTP without --allow-api-exec.
Response exec_over_api_refused(const std::string& name);
// Parses the query of GET /_esmd/invocations.
Result<InvocationQuery> parse_invocation_query(const Request& req);
// One entry of GET /_esmd/invocations, as JSON. The event is embedded as JSON when it is
// valid JSON, else as a string.
std::string invocation_json(const InvocationRecord& r);

}  // namespace esm::api
