#include "pollers/classify.h"

#include <catch2/catch.hpp>

namespace esm::pollers {
namespace {

TEST_CASE("a 200 without an error header or error body is a success with the body as payload") {
  auto o = classify_http(200, {}, R"({"batchItemFailures":[]})");
  CHECK(o.status == InvokeStatus::kSuccess);
  CHECK(o.http_status == 200);
  CHECK(o.payload == R"({"batchItemFailures":[]})");
  CHECK(o.function_error.empty());
  CHECK(o.executed_version == "$LATEST");
  CHECK(o.request_id.empty());
}

TEST_CASE("X-Amz-Function-Error makes a 200 a function error with the header's value") {
  auto o = classify_http(200, {{"x-amz-function-error", "Handled"}}, R"({"errorMessage":"x"})");
  CHECK(o.status == InvokeStatus::kFunctionError);
  CHECK(o.function_error == "Handled");
  CHECK(o.http_status == 200);
  CHECK(o.payload == R"({"errorMessage":"x"})");
  // Header names are case-insensitive.
  CHECK(classify_http(200, {{"X-AMZ-FUNCTION-ERROR", "Unhandled"}}, "{}").function_error == "Unhandled");
}

TEST_CASE("an empty X-Amz-Function-Error does not make a function error") {
  CHECK(classify_http(200, {{"X-Amz-Function-Error", ""}}, "{}").status == InvokeStatus::kSuccess);
}

TEST_CASE("an RIE error body (errorMessage and errorType) is an Unhandled function error") {
  auto o = classify_http(200, {}, R"({"errorMessage":"boom","errorType":"Exception","stackTrace":[]})");
  CHECK(o.status == InvokeStatus::kFunctionError);
  CHECK(o.function_error == "Unhandled");
  CHECK(o.payload == R"({"errorMessage":"boom","errorType":"Exception","stackTrace":[]})");
  // Python 3.12+ adds requestId; still an error.
  CHECK(classify_http(200, {}, R"( {"errorMessage":"b","errorType":"E","requestId":"r"} )").status ==
        InvokeStatus::kFunctionError);
}

TEST_CASE("a body with only one of errorMessage and errorType, or not an object, is a success") {
  CHECK(classify_http(200, {}, R"({"errorMessage":"b"})").status == InvokeStatus::kSuccess);
  CHECK(classify_http(200, {}, R"({"errorType":"b"})").status == InvokeStatus::kSuccess);
  CHECK(classify_http(200, {}, R"(["errorMessage","errorType"])").status == InvokeStatus::kSuccess);
  CHECK(classify_http(200, {}, R"("errorMessage errorType")").status == InvokeStatus::kSuccess);
  CHECK(classify_http(200, {}, R"({"errorMessage":"b","errorType":)").status == InvokeStatus::kSuccess);
  CHECK(classify_http(200, {}, "").status == InvokeStatus::kSuccess);
}

TEST_CASE("the RIE's plain-text timeout body is an Unhandled function error") {
  auto o = classify_http(200, {}, "Task timed out after 3.00 seconds");
  CHECK(o.status == InvokeStatus::kFunctionError);
  CHECK(o.function_error == "Unhandled");
  CHECK(o.payload == "Task timed out after 3.00 seconds");
}

TEST_CASE("a 502 (the runtime exited) is an Unhandled function error reported as 200") {
  auto o = classify_http(502, {}, "");
  CHECK(o.status == InvokeStatus::kFunctionError);
  CHECK(o.function_error == "Unhandled");
  CHECK(o.http_status == 200);
  CHECK(o.payload.find("Runtime.ExitError") != std::string::npos);
  CHECK(classify_http(502, {}, R"({"errorType":"X","errorMessage":"y"})").payload ==
        R"({"errorType":"X","errorMessage":"y"})");
}

TEST_CASE("404, 413, 429 and other 4xx/5xx are invoke errors that name the status") {
  for (int status : {400, 404, 413, 429, 500, 501, 503, 301, 100}) {
    auto o = classify_http(status, {{"x-amzn-errortype", "ResourceNotFound"}}, R"({"Message":"nope"})");
    INFO(status);
    CHECK(o.status == InvokeStatus::kInvokeError);
    CHECK(o.http_status == status);
    CHECK(o.function_error.empty());
    CHECK(o.detail.find("HTTP " + std::to_string(status)) != std::string::npos);
    CHECK(o.detail.find("ResourceNotFound") != std::string::npos);
  }
}

TEST_CASE("other 2xx statuses follow the 200 rules") {
  CHECK(classify_http(202, {}, "").status == InvokeStatus::kSuccess);
  CHECK(classify_http(204, {{"X-Amz-Function-Error", "Unhandled"}}, "").status == InvokeStatus::kFunctionError);
}

TEST_CASE("the executed version and request id are copied from the response headers") {
  auto o = classify_http(200, {{"X-Amz-Executed-Version", "7"}, {"X-Amzn-RequestId", "req-1"}}, "{}");
  CHECK(o.executed_version == "7");
  CHECK(o.request_id == "req-1");
  auto e = classify_http(429, {{"x-amzn-RequestId", "req-2"}}, "");
  CHECK(e.request_id == "req-2");
}

TEST_CASE("failures before the request was sent are invoke errors") {
  HttpFailure refused{HttpStage::kConnect, false, false, false, "Connection refused"};
  auto o = classify_http_failure(refused, 8000);
  CHECK(o.status == InvokeStatus::kInvokeError);
  CHECK(o.detail.find("Connection refused") != std::string::npos);
  CHECK(classify_http_failure({HttpStage::kConnect, true, false, false, ""}, 8000).status ==
        InvokeStatus::kInvokeError);
  CHECK(classify_http_failure({HttpStage::kSend, false, false, false, "Broken pipe"}, 8000).status ==
        InvokeStatus::kInvokeError);
}

TEST_CASE("a deadline passed after the request was sent is a timeout naming the function's timeout") {
  auto o = classify_http_failure({HttpStage::kReceive, true, false, false, "timeout"}, 3000);
  CHECK(o.status == InvokeStatus::kFunctionError);
  CHECK(o.function_error == "Unhandled");
  CHECK(o.http_status == 200);
  CHECK(o.payload == R"({"errorMessage":"Task timed out after 3.00 seconds","errorType":"Sandbox.Timedout"})");
  CHECK(o.detail == "no response within 8000 ms (the function timeout of 3000 ms + 5 s of grace)");
}

TEST_CASE("a success that answers after the function timeout is a timeout, keeping its request id") {
  auto late = classify_http(200, {{"x-amzn-RequestId", "rid-9"}, {"X-Amz-Executed-Version", "4"}}, R"({"ok":1})");
  auto o = apply_function_timeout(late, 5001, 3000);
  CHECK(o.status == InvokeStatus::kFunctionError);
  CHECK(o.function_error == "Unhandled");
  CHECK(o.http_status == 200);
  CHECK(o.payload == R"({"errorMessage":"Task timed out after 3.00 seconds","errorType":"Sandbox.Timedout"})");
  CHECK(o.request_id == "rid-9");
  CHECK(o.executed_version == "4");
  CHECK(o.detail.find("5001 ms") != std::string::npos);
}

TEST_CASE("an answer within the function timeout keeps its classification") {
  auto ok = apply_function_timeout(classify_http(200, {}, R"({"ok":1})"), 2999, 3000);
  CHECK(ok.status == InvokeStatus::kSuccess);
  CHECK(ok.payload == R"({"ok":1})");
  auto failed = apply_function_timeout(classify_http(200, {{"X-Amz-Function-Error", "Handled"}}, "{}"), 10, 3000);
  CHECK(failed.function_error == "Handled");
}

TEST_CASE("any function error after the timeout is a timeout; an invoke error stays an invoke error") {
  // The RIE's own report, with the RIE's (different) timeout, and a runtime killed at the timeout.
  for (auto late : {classify_http(200, {}, "Task timed out after 300.00 seconds"), classify_http(502, {}, ""),
                    classify_http_failure({HttpStage::kReceive, false, false, false, "end of stream"}, 1000)}) {
    auto o = apply_function_timeout(late, 1000, 1000);
    CHECK(o.status == InvokeStatus::kFunctionError);
    CHECK(o.payload == R"({"errorMessage":"Task timed out after 1.00 seconds","errorType":"Sandbox.Timedout"})");
  }
  auto throttled = apply_function_timeout(classify_http(429, {}, "{}"), 9000, 1000);
  CHECK(throttled.status == InvokeStatus::kInvokeError);
  CHECK(throttled.http_status == 429);
}

TEST_CASE("a connection dropped after the request was sent is an Unhandled function error") {
  auto o = classify_http_failure({HttpStage::kReceive, false, false, false, "end of stream"}, 8000);
  CHECK(o.status == InvokeStatus::kFunctionError);
  CHECK(o.function_error == "Unhandled");
}

TEST_CASE("an oversized response is a function error and a malformed one an invoke error") {
  auto big = classify_http_failure({HttpStage::kReceive, false, true, false, "body limit"}, 8000);
  CHECK(big.status == InvokeStatus::kFunctionError);
  CHECK(big.payload.find("Function.ResponseSizeTooLarge") != std::string::npos);
  CHECK(classify_http_failure({HttpStage::kReceive, false, false, true, "bad version"}, 8000).status ==
        InvokeStatus::kInvokeError);
}

TEST_CASE("exec: exit 0 is a success with stdout, or null for no output") {
  ExecResult r;
  r.exit_code = 0;
  r.out = "{\"ok\":true}";
  auto o = classify_exec(r, 3000);
  CHECK(o.status == InvokeStatus::kSuccess);
  CHECK(o.payload == "{\"ok\":true}");
  r.out.clear();
  CHECK(classify_exec(r, 3000).payload == "null");
}

TEST_CASE("exec: a non-zero exit is Unhandled with stdout, else stderr as the errorMessage") {
  ExecResult r;
  r.exit_code = 3;
  r.out = "{\"partial\":1}";
  r.err = "ignored";
  auto o = classify_exec(r, 3000);
  CHECK(o.status == InvokeStatus::kFunctionError);
  CHECK(o.function_error == "Unhandled");
  CHECK(o.payload == "{\"partial\":1}");
  r.out.clear();
  r.err = "  oops \"quoted\"\n";
  CHECK(classify_exec(r, 3000).payload == R"({"errorMessage":"oops \"quoted\"","errorType":"Runtime.ExitError"})");
  r.err.clear();
  CHECK(classify_exec(r, 3000).payload ==
        R"({"errorMessage":"Runtime exited with error: exit status 3","errorType":"Runtime.ExitError"})");
}

TEST_CASE("exec: a signal is Unhandled, a timeout says Task timed out, a failed spawn is an invoke error") {
  ExecResult sig;
  sig.signal = 9;
  CHECK(classify_exec(sig, 3000).status == InvokeStatus::kFunctionError);
  ExecResult slow;
  slow.timed_out = true;
  slow.signal = 9;
  auto o = classify_exec(slow, 200);
  CHECK(o.status == InvokeStatus::kFunctionError);
  CHECK(o.payload == R"({"errorMessage":"Task timed out after 0.20 seconds","errorType":"Sandbox.Timedout"})");
  ExecResult failed;
  failed.spawned = false;
  failed.spawn_error = "posix_spawn: ENOMEM";
  CHECK(classify_exec(failed, 3000).status == InvokeStatus::kInvokeError);
}

TEST_CASE("a body nested a million levels deep is classified without overflowing the stack") {
  auto o = classify_http(200, {}, "{\"errorMessage\":\"x\",\"errorType\":\"y\",\"z\":" + std::string(1000000, '['));
  CHECK(o.status == InvokeStatus::kSuccess);
}

}  // namespace
}  // namespace esm::pollers
