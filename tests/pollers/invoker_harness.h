#pragma once
// InvokerHarness: a FunctionInvoker on a running io_context (two threads) with its registry,
// log and fake clock, and a blocking invoke() for tests that waits with a deadline.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/arn.h"
#include "core/function_registry.h"
#include "core/invocation_log.h"
#include "pollers/invoker.h"
#include "tests/fakes/fake_clock.h"

namespace esm::testing {

class InvokerHarness {
 public:
  explicit InvokerHarness(int threads = 2) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { ioc.run(); });
  }
  ~InvokerHarness() {
    guard_.reset();
    ioc.stop();
    for (auto& t : threads_) t.join();
  }

  static std::string arn(const std::string& name) { return function_arn("us-east-1", "000000000000", name); }

  void put(const std::string& name, const std::string& target, int timeout_ms = 3000, int concurrency = 1) {
    registry.put(FunctionSpec{name, target, timeout_ms, concurrency});
  }

  std::future<InvokeOutcome> start(const std::string& function_arn, std::string payload, std::string mapping = {}) {
    auto p = std::make_shared<std::promise<InvokeOutcome>>();
    auto f = p->get_future();
    invoker.invoke({function_arn, std::move(mapping), std::move(payload)},
                   [p](InvokeOutcome o) { p->set_value(std::move(o)); });
    return f;
  }

  static InvokeOutcome wait(std::future<InvokeOutcome>& f) {
    REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    return f.get();
  }

  InvokeOutcome invoke(const std::string& function_arn, std::string payload, std::string mapping = {}) {
    auto f = start(function_arn, std::move(payload), std::move(mapping));
    return wait(f);
  }

  boost::asio::io_context ioc;

 private:
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_ = boost::asio::make_work_guard(ioc);

 public:
  FakeClock clock;
  FunctionRegistry registry;
  InvocationLog log;
  pollers::FunctionInvoker invoker{ioc, registry, log, clock};

 private:
  std::vector<std::thread> threads_;
};

}  // namespace esm::testing
