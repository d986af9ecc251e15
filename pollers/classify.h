#pragma once
// From what a transport observed to an InvokeOutcome (data-plane.md §5.4). Pure functions of
// plain data, so that every row of the table is unit-tested without a socket or a process.
//
// HTTP targets, as implemented (a status in 2xx follows the 200 rows):
//
//   Observation                                           Status          function_error
//   200 + X-Amz-Function-Error: V (non-empty)             kFunctionError  V
//   200 + body is a JSON object with errorMessage and     kFunctionError  "Unhandled"
//         errorType (RIE; SAM adds the header itself)
//   200 + body starts with "Task timed out after" (RIE)   kFunctionError  "Unhandled"
//   200 otherwise                                         kSuccess        -
//   502 (RIE: the runtime exited during the invoke)       kFunctionError  "Unhandled"
//   any other status (404, 413, 429, 4xx, 5xx, 1xx, 3xx)  kInvokeError    - (detail says why)
//   connect failed (refused, unresolvable, timed out)     kInvokeError    -
//   the request could not be sent completely              kInvokeError    -
//   deadline passed after the request was sent            kFunctionError  "Unhandled" (timeout)
//   connection dropped after the request was sent         kFunctionError  "Unhandled"
//   response body over the 6 MB payload limit             kFunctionError  "Unhandled"
//   malformed HTTP response                               kInvokeError    -
//
// The timeout is the function's (apply_function_timeout): any answer that arrives after it,
// success or error, is a timeout, "Unhandled" with Lambda's {"errorMessage": "Task timed out
// after 3.00 seconds", "errorType": "Sandbox.Timedout"}. The deadline's grace beyond it only
// lets a runtime (an RIE) report its own timeout.
//
// Function errors carry http_status 200, as Lambda reports them to an event-source mapping.
// X-Amz-Executed-Version and x-amzn-RequestId are copied when present; otherwise the outcome
// keeps "$LATEST" and an empty request_id (the invoker generates one).

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/invoke.h"

namespace esm::pollers {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// How long after the function timeout an http target may still answer before esmd gives up
// on the connection: the grace in which a runtime (an RIE) reports its own timeout.
inline constexpr int kTimeoutGraceMs = 5000;

// Lambda's synchronous response payload limit.
inline constexpr std::size_t kMaxResponseBytes = 6 * 1024 * 1024;

// An outcome for a call that never reached the function (http_status 0 when no HTTP answer came).
InvokeOutcome invoke_error(int http_status, std::string detail);

// A complete HTTP response from an http target.
InvokeOutcome classify_http(int status, const HttpHeaders& headers, std::string body);

// Where an HTTP exchange failed before a complete response arrived.
enum class HttpStage {
  kConnect,  // resolving or connecting: the function cannot have run
  kSend,     // writing the request: the target never had the whole event
  kReceive,  // reading the response: the function was (or may have been) running
};

struct HttpFailure {
  HttpStage stage = HttpStage::kConnect;
  bool timed_out = false;       // the deadline passed
  bool body_too_large = false;  // the response body exceeded kMaxResponseBytes
  bool malformed = false;       // the response was not valid HTTP/1.1
  std::string message;          // the transport's own words, for the detail
};

// timeout_ms: the function's timeout, which a passed deadline reports as having run out.
InvokeOutcome classify_http_failure(const HttpFailure& f, int timeout_ms);

// The outcome of a function that ran out its timeout, as Lambda reports it.
InvokeOutcome timed_out(int timeout_ms, std::string detail);

// An http target's outcome when its answer took elapsed_ms: an answer at or after the
// function's timeout is a timeout, whatever it said (a late success included), keeping its
// request id and executed version. An invoke error stays one: the function never ran.
InvokeOutcome apply_function_timeout(InvokeOutcome o, std::int64_t elapsed_ms, int timeout_ms);

// What running an exec: target produced.
struct ExecResult {
  bool spawned = true;
  std::string spawn_error;  // when !spawned
  bool timed_out = false;   // killed by esmd after the function timeout
  int exit_code = -1;       // when it exited normally
  int signal = 0;           // when a signal ended it
  bool stdout_too_large = false;
  std::string out;  // stdout, at most kMaxResponseBytes
  std::string err;  // the start of stderr
};

// Exit 0: success with stdout ("null" when empty, as Lambda answers for a handler that returns
// nothing). Non-zero exit or a signal: "Unhandled", payload = stdout, or an errorMessage built
// from stderr when stdout is empty. Timeout: "Unhandled" with Lambda's timeout message.
InvokeOutcome classify_exec(const ExecResult& r, int timeout_ms);

// The error object Lambda's runtimes return: {"errorMessage":message,"errorType":type}.
std::string error_payload(std::string_view message, std::string_view type);
// "Task timed out after 3.00 seconds", as Lambda words it.
std::string timeout_message(int timeout_ms);

}  // namespace esm::pollers
