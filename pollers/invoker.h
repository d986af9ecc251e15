#pragma once
// FunctionInvoker: the Invoker that runs registered functions (issue 3 §2, data-plane.md §5).
//
// invoke() resolves req.function_arn (name and qualifier) in the FunctionRegistry and
// dispatches on the target:
//   http://...   POST the event like the Lambda Invoke API (HttpClient: keep-alive pool per
//                host:port); outcome per classify.h. An answer at or after the function
//                timeout is a timeout (apply_function_timeout); the connection is given up
//                kTimeoutGraceMs (5 s) after it, a grace that lets an RIE report its own
//                timeout.
//   exec:CMD     /bin/sh -c CMD with the event on stdin (ExecRunner); killed after the timeout.
//   builtin:ok   success, payload {} (an empty response: complete success for every source).
//   builtin:fail function error "Unhandled".
// An unknown function is an invoke error ("Function not found"), as a 404 from Lambda is.
//
// At most FunctionSpec::concurrency requests are open to one http target (keyed by URL) or
// one exec function at a time; the rest wait in FIFO order (ConcurrencyGate). The default of 1
// is what an aws-lambda-rie needs: it dies on a second concurrent request (§5.2); functions
// reached through --invoke-endpoint get the registry's invoke-endpoint concurrency. The wait
// counts toward neither the timeout nor DurationMs.
//
// Every invocation is appended to the InvocationLog before `done` runs.
//
// Thread safety: invoke() from any thread; `done` runs exactly once on an io_context thread,
// never inline. Lifetime: destroy only after the io_context has stopped running; the
// destructor kills exec: children that are still running.

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/function_registry.h"
#include "core/invocation_log.h"
#include "core/invoke.h"
#include "pollers/classify.h"
#include "pollers/concurrency_gate.h"

namespace esm::pollers {

class HttpClient;
class ExecRunner;

class FunctionInvoker final : public Invoker {
 public:
  FunctionInvoker(boost::asio::io_context& ioc, const FunctionRegistry& functions, InvocationLog& log,
                  const Clock& clock);
  ~FunctionInvoker() override;
  FunctionInvoker(const FunctionInvoker&) = delete;
  FunctionInvoker& operator=(const FunctionInvoker&) = delete;

  void invoke(InvokeRequest req, std::function<void(InvokeOutcome)> done) override;

 private:
  struct Call;

  void run_http(const std::shared_ptr<Call>& call);
  void run_exec(const std::shared_ptr<Call>& call);
  // Frees the call's gate slot (if it holds one) and starts whoever was waiting for it.
  void release(Call& call);
  // Logs the outcome and calls done: posted when `post` (inside invoke()), else directly.
  void finish(const std::shared_ptr<Call>& call, InvokeOutcome outcome, bool post);

  boost::asio::io_context& ioc_;
  const FunctionRegistry& functions_;
  InvocationLog& log_;
  const Clock& clock_;
  ConcurrencyGate gate_;
  std::shared_ptr<HttpClient> http_;
  std::shared_ptr<ExecRunner> exec_;
};

// The URL to POST to: the target, plus ?Qualifier= when the target is a Lambda Invoke API
// path (/2015-03-31/functions/{name}/invocations) and the ARN carries a qualifier.
std::string invoke_url(const std::string& target, const std::string& qualifier);

}  // namespace esm::pollers
