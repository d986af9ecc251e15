#include "pollers/invoker.h"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/fakes/fake_clock.h"
#include "tests/pollers/invoker_harness.h"

namespace esm::pollers {
namespace {

using testing::InvokerHarness;

TEST_CASE("done runs later on the io_context, never inside invoke()") {
  boost::asio::io_context ioc;
  testing::FakeClock clock;
  FunctionRegistry registry;
  InvocationLog log;
  registry.put({"ok", "builtin:ok"});
  FunctionInvoker invoker(ioc, registry, log, clock);
  int called = 0;
  invoker.invoke({InvokerHarness::arn("ok"), "", "{}"}, [&](InvokeOutcome) { ++called; });
  invoker.invoke({InvokerHarness::arn("missing"), "", "{}"}, [&](InvokeOutcome) { ++called; });
  CHECK(called == 0);
  ioc.run();
  CHECK(called == 2);
}

TEST_CASE("builtin:ok succeeds with an empty JSON object") {
  InvokerHarness h;
  h.put("ok", "builtin:ok");
  auto o = h.invoke(InvokerHarness::arn("ok"), R"({"Records":[]})");
  CHECK(o.status == InvokeStatus::kSuccess);
  CHECK(o.payload == "{}");
  CHECK(o.executed_version == "$LATEST");
  CHECK(o.request_id.size() == 36);
}

TEST_CASE("builtin:fail is an Unhandled function error") {
  InvokerHarness h;
  h.put("bad", "builtin:fail");
  auto o = h.invoke(InvokerHarness::arn("bad"), "{}");
  CHECK(o.status == InvokeStatus::kFunctionError);
  CHECK(o.function_error == "Unhandled");
  CHECK(o.payload == R"({"errorMessage":"builtin:fail","errorType":"Error"})");
}

TEST_CASE("an unknown function is an invoke error, like a 404 from Lambda") {
  InvokerHarness h;
  auto o = h.invoke(InvokerHarness::arn("missing"), "{}");
  CHECK(o.status == InvokeStatus::kInvokeError);
  CHECK(o.http_status == 404);
  CHECK(o.detail.find("Function not found") != std::string::npos);
  CHECK(h.invoke("not an arn!", "{}").status == InvokeStatus::kInvokeError);
}

TEST_CASE("a qualified ARN invokes the function of that name") {
  InvokerHarness h;
  h.put("ok", "builtin:ok");
  CHECK(h.invoke(InvokerHarness::arn("ok") + ":prod", "{}").status == InvokeStatus::kSuccess);
  CHECK(h.invoke("ok", "{}").status == InvokeStatus::kSuccess);
}

TEST_CASE("every invocation is in the log with its event, mapping, time and outcome") {
  InvokerHarness h;
  h.put("bad", "builtin:fail");
  h.clock.set_ms(1'700'000'123'000);
  (void)h.invoke(InvokerHarness::arn("bad"), R"({"n":1})", "aaaaaaaa-0000-4000-8000-000000000001");
  auto entries = h.log.query({});
  REQUIRE(entries.size() == 1);
  const auto& e = *entries[0];
  CHECK(e.seq == 1);
  CHECK(e.time_ms == 1'700'000'123'000);
  CHECK(e.function_arn == InvokerHarness::arn("bad"));
  CHECK(e.mapping_uuid == "aaaaaaaa-0000-4000-8000-000000000001");
  CHECK(*e.event == R"({"n":1})");
  CHECK(e.outcome.status == InvokeStatus::kFunctionError);
  CHECK(e.outcome.function_error == "Unhandled");
}

TEST_CASE("exec: the event goes to stdin and stdout is the response") {
  InvokerHarness h;
  h.put("cat", "exec:cat");
  auto o = h.invoke(InvokerHarness::arn("cat"), R"({"hello":"world"})");
  CHECK(o.status == InvokeStatus::kSuccess);
  CHECK(o.payload == R"({"hello":"world"})");
}

TEST_CASE("exec: a non-zero exit is an Unhandled function error built from stderr") {
  InvokerHarness h;
  h.put("exit3", "exec:echo 'went wrong' >&2; exit 3");
  auto o = h.invoke(InvokerHarness::arn("exit3"), "{}");
  CHECK(o.status == InvokeStatus::kFunctionError);
  CHECK(o.function_error == "Unhandled");
  CHECK(o.payload == R"({"errorMessage":"went wrong","errorType":"Runtime.ExitError"})");
  CHECK(o.detail.find("exit status 3") != std::string::npos);

  h.put("exit3out", "exec:printf '{\"why\":1}'; exit 3");
  CHECK(h.invoke(InvokerHarness::arn("exit3out"), "{}").payload == R"({"why":1})");
}

TEST_CASE("exec: a command that runs past its timeout is killed and reported as timed out") {
  InvokerHarness h;
  h.put("slow", "exec:sleep 5", 200);
  const auto t0 = std::chrono::steady_clock::now();
  auto o = h.invoke(InvokerHarness::arn("slow"), "{}");
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(o.status == InvokeStatus::kFunctionError);
  CHECK(o.function_error == "Unhandled");
  CHECK(o.payload.find("Task timed out after 0.20 seconds") != std::string::npos);
  CHECK(took < std::chrono::seconds(3));
}

TEST_CASE("exec: a 5 MB event passes through cat without deadlocking") {
  InvokerHarness h;
  h.put("cat", "exec:cat", 20000);
  std::string event = "\"" + std::string(5 * 1024 * 1024, 'x') + "\"";
  auto o = h.invoke(InvokerHarness::arn("cat"), event);
  CHECK(o.status == InvokeStatus::kSuccess);
  CHECK(o.payload.size() == event.size());
  CHECK(o.payload == event);
}

TEST_CASE("exec: a command that never reads its stdin still succeeds with a large event") {
  InvokerHarness h;
  h.put("echo", "exec:echo hi");
  auto o = h.invoke(InvokerHarness::arn("echo"), std::string(4 * 1024 * 1024, ' '));
  CHECK(o.status == InvokeStatus::kSuccess);
  CHECK(o.payload == "hi\n");
}

TEST_CASE("exec: the child sees the function name and the mapping UUID") {
  InvokerHarness h;
  h.put("env", R"(exec:printf '%s %s' "$AWS_LAMBDA_FUNCTION_NAME" "$ESMD_MAPPING_UUID")");
  auto o = h.invoke(InvokerHarness::arn("env"), "{}", "aaaaaaaa-0000-4000-8000-000000000001");
  CHECK(o.payload == "env aaaaaaaa-0000-4000-8000-000000000001");
}

TEST_CASE("exec: background processes left behind do not hold the invocation open") {
  InvokerHarness h;
  h.put("bg", "exec:sleep 30 & echo started", 10000);
  const auto t0 = std::chrono::steady_clock::now();
  auto o = h.invoke(InvokerHarness::arn("bg"), "{}");
  CHECK(o.status == InvokeStatus::kSuccess);
  CHECK(o.payload == "started\n");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
}

TEST_CASE("exec: with concurrency 1 two runs of one function never overlap") {
  InvokerHarness h;
  // Each run appends to a file only while no other run holds the lock directory.
  h.put("one", "exec:mkdir \"$TMPDIR_LOCK\" 2>/dev/null || { echo overlap; exit 1; }; sleep 0.05; rmdir \"$TMPDIR_LOCK\"",
        5000, 1);
  // The lock path comes from the environment of esmd itself.
  char tmpl[] = "/tmp/esmd-gate-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::string lock = std::string(tmpl) + "/lock";
  setenv("TMPDIR_LOCK", lock.c_str(), 1);
  std::vector<std::future<InvokeOutcome>> fs;
  for (int i = 0; i < 4; ++i) fs.push_back(h.start(InvokerHarness::arn("one"), "{}"));
  for (auto& f : fs) {
    auto o = InvokerHarness::wait(f);
    CHECK(o.status == InvokeStatus::kSuccess);
  }
  unsetenv("TMPDIR_LOCK");
  rmdir(tmpl);
}

}  // namespace
}  // namespace esm::pollers
