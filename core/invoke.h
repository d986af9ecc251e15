#pragma once
// The contract between the pollers and whatever runs a function (data-plane.md §5).
// A function's failure is a value (InvokeOutcome), never an error: retry, bisect and delete
// decisions are pure functions of it.

#include <cstdint>
#include <functional>
#include <string>

namespace esm {

enum class InvokeStatus {
  kSuccess,        // the function ran and returned; payload is its result
  kFunctionError,  // the function ran and failed (error header, RIE error body, timeout, crash)
  kInvokeError,    // it never ran: refused connection, 404, 429, 5xx from a Lambda-API endpoint
};

struct InvokeRequest {
  std::string function_arn;  // as stored on the mapping; may carry a qualifier
  std::string mapping_uuid;  // for the invocation log; empty for direct invocations
  std::string payload;       // the event, a JSON document
};

struct InvokeOutcome {
  InvokeStatus status = InvokeStatus::kInvokeError;
  int http_status = 0;             // 200 for function errors, as Lambda reports them
  std::string function_error;      // X-Amz-Function-Error value ("Unhandled") for function errors
  std::string payload;             // the function's response body
  std::string executed_version = "$LATEST";
  std::string request_id;
  std::string detail;              // a human-readable reason for invoke errors
  std::int64_t duration_ms = 0;
};

// Thread safety: invoke() may be called from any thread; `done` is called exactly once, from
// an I/O or worker thread, never inline from invoke().
class Invoker {
 public:
  virtual ~Invoker() = default;
  virtual void invoke(InvokeRequest req, std::function<void(InvokeOutcome)> done) = 0;
};

}  // namespace esm
