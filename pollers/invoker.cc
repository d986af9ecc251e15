#include "pollers/invoker.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <chrono>

#include "core/arn.h"
#include "core/uuid.h"
#include "pollers/classify.h"
#include "pollers/exec_runner.h"
#include "pollers/http_client.h"

namespace esm::pollers {

namespace net = boost::asio;

namespace {

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0x0f]);
    }
  }
  return out;
}

}  // namespace

std::string invoke_url(const std::string& target, const std::string& qualifier) {
  if (qualifier.empty()) return target;
  const auto q = target.find('?');
  std::string_view path = std::string_view(target).substr(0, q);
  const auto fn = path.find("/2015-03-31/functions/");
  if (fn == std::string_view::npos || !path.ends_with("/invocations")) return target;
  return target + (q == std::string::npos ? "?" : "&") + "Qualifier=" + percent_encode(qualifier);
}

struct FunctionInvoker::Call {
  InvokeRequest req;  // its payload has moved to `event`
  std::shared_ptr<const std::string> event;
  std::function<void(InvokeOutcome)> done;
  FunctionSpec spec;
  std::string qualifier;
  std::string gate_key;  // non-empty while the call holds a gate slot
  std::int64_t time_ms = 0;
  std::chrono::steady_clock::time_point started;  // reset when the call gets its slot
};

FunctionInvoker::FunctionInvoker(net::io_context& ioc, const FunctionRegistry& functions, InvocationLog& log,
                                 const Clock& clock)
    : ioc_(ioc),
      functions_(functions),
      log_(log),
      clock_(clock),
      http_(std::make_shared<HttpClient>(ioc)),
      exec_(std::make_shared<ExecRunner>(ioc)) {}

FunctionInvoker::~FunctionInvoker() { exec_->kill_all(); }

void FunctionInvoker::invoke(InvokeRequest req, std::function<void(InvokeOutcome)> done) {
  auto call = std::make_shared<Call>();
  call->time_ms = clock_.now_ms();
  call->started = std::chrono::steady_clock::now();
  call->event = std::make_shared<const std::string>(std::move(req.payload));
  call->req = std::move(req);
  call->done = std::move(done);

  auto ref = parse_function_ref(call->req.function_arn);
  if (!ref) return finish(call, invoke_error(400, "Invalid function name or ARN: " + call->req.function_arn), true);
  auto spec = functions_.find(ref->name);
  if (!spec) return finish(call, invoke_error(404, "Function not found: " + call->req.function_arn), true);
  auto kind = parse_target(spec->target);
  if (!kind) return finish(call, invoke_error(0, kind.status().message()), true);
  call->spec = std::move(*spec);
  call->qualifier = ref->qualifier;

  switch (*kind) {
    case TargetKind::kBuiltinOk: {
      InvokeOutcome o;
      o.status = InvokeStatus::kSuccess;
      o.http_status = 200;
      o.payload = "{}";
      return finish(call, std::move(o), true);
    }
    case TargetKind::kBuiltinFail: {
      InvokeOutcome o;
      o.status = InvokeStatus::kFunctionError;
      o.http_status = 200;
      o.function_error = "Unhandled";
      o.payload = error_payload("builtin:fail", "Error");
      o.detail = "builtin:fail always fails";
      return finish(call, std::move(o), true);
    }
    case TargetKind::kHttp:
      // Keyed by the target, not the function: two functions registered on one RIE share it.
      call->gate_key = "http " + call->spec.target;
      break;
    case TargetKind::kExec:
      call->gate_key = "exec " + call->spec.name;
      break;
  }
  const bool http = *kind == TargetKind::kHttp;
  auto start = gate_.acquire(call->gate_key, call->spec.concurrency, [this, call, http] {
    // The function's time starts now: the wait for a slot is neither timeout nor duration.
    call->started = std::chrono::steady_clock::now();
    if (http) {
      run_http(call);
    } else {
      run_exec(call);
    }
  });
  if (start) net::post(ioc_, std::move(*start));
}

void FunctionInvoker::run_http(const std::shared_ptr<Call>& call) {
  const std::string url_text = invoke_url(call->spec.target, call->qualifier);
  auto url = parse_http_url(url_text);
  if (!url) {
    release(*call);
    return finish(call, invoke_error(0, "Unsupported target URL: " + url_text), false);
  }
  const int timeout_ms = call->spec.timeout_ms;
  HttpHeaders headers = {{"X-Amz-Invocation-Type", "RequestResponse"}, {"Content-Type", "application/json"}};
  http_->post(*url, std::move(headers), call->event,
              call->started + std::chrono::milliseconds(timeout_ms + kTimeoutGraceMs),
              [this, call, timeout_ms](HttpResult r) {
                release(*call);
                const auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::steady_clock::now() - call->started)
                                            .count();
                InvokeOutcome o;
                if (auto* res = std::get_if<HttpResponse>(&r)) {
                  o = apply_function_timeout(classify_http(res->status, res->headers, std::move(res->body)),
                                             elapsed_ms, timeout_ms);
                } else if (const auto& f = std::get<HttpFailure>(r); f.timed_out) {
                  o = classify_http_failure(f, timeout_ms);
                } else {
                  o = apply_function_timeout(classify_http_failure(f, timeout_ms), elapsed_ms, timeout_ms);
                }
                finish(call, std::move(o), false);
              });
}

void FunctionInvoker::run_exec(const std::shared_ptr<Call>& call) {
  ExecRequest er;
  er.command = call->spec.target.substr(std::string_view("exec:").size());
  er.env = {{"AWS_LAMBDA_FUNCTION_NAME", call->spec.name},
            {"AWS_LAMBDA_FUNCTION_VERSION", call->qualifier.empty() ? "$LATEST" : call->qualifier},
            {"ESMD_MAPPING_UUID", call->req.mapping_uuid}};
  er.input = call->event;
  er.timeout_ms = call->spec.timeout_ms;
  const int timeout_ms = call->spec.timeout_ms;
  exec_->run(std::move(er), [this, call, timeout_ms](ExecResult r) {
    release(*call);
    finish(call, classify_exec(r, timeout_ms), false);
  });
}

void FunctionInvoker::release(Call& call) {
  if (call.gate_key.empty()) return;
  for (auto& start : gate_.release(call.gate_key)) net::post(ioc_, std::move(start));
  call.gate_key.clear();
}

void FunctionInvoker::finish(const std::shared_ptr<Call>& call, InvokeOutcome outcome, bool post) {
  outcome.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - call->started).count();
  if (outcome.request_id.empty()) outcome.request_id = new_uuid();
  if (outcome.executed_version.empty()) outcome.executed_version = "$LATEST";

  InvocationRecord rec;
  rec.time_ms = call->time_ms;
  rec.function_arn = call->req.function_arn;
  rec.mapping_uuid = call->req.mapping_uuid;
  rec.event = call->event;
  rec.outcome = outcome;
  const std::uint64_t seq = log_.append(std::move(rec));
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("invoke #{} {} -> {}{}{} ({} ms){}{}", seq, call->req.function_arn, outcome_name(outcome.status),
                  outcome.function_error.empty() ? "" : " ", outcome.function_error, outcome.duration_ms,
                  outcome.detail.empty() ? "" : ": ", outcome.detail);
  }
  if (post) {
    net::post(ioc_, [call, o = std::move(outcome)]() mutable { call->done(std::move(o)); });
  } else {
    call->done(std::move(outcome));
  }
}

}  // namespace esm::pollers
