#include <catch2/catch.hpp>

#include "core/function_registry.h"

using namespace esm;

TEST_CASE("a registered function is found by name and listed in name order") {
  FunctionRegistry reg;
  reg.put({"zeta", "builtin:ok", 3000, 1});
  reg.put({"alpha", "exec:cat", 1000, 4});
  auto f = reg.find("alpha");
  REQUIRE(f);
  CHECK(f->target == "exec:cat");
  CHECK(f->timeout_ms == 1000);
  CHECK(f->concurrency == 4);
  CHECK(reg.exists("zeta"));
  auto all = reg.list();
  REQUIRE(all.size() == 2);
  CHECK(all[0].name == "alpha");
  CHECK(all[1].name == "zeta");
}

TEST_CASE("putting a function again replaces its target") {
  FunctionRegistry reg;
  reg.put({"f", "builtin:ok", 3000, 1});
  reg.put({"f", "builtin:fail", 3000, 1});
  CHECK(reg.find("f")->target == "builtin:fail");
  CHECK(reg.list().size() == 1);
}

TEST_CASE("without an invoke endpoint an unknown name is not found") {
  FunctionRegistry reg;
  CHECK_FALSE(reg.find("nope"));
  CHECK_FALSE(reg.exists("nope"));
}

TEST_CASE("removing a function forgets it and reports whether it existed") {
  FunctionRegistry reg;
  reg.put({"f", "builtin:ok", 3000, 1});
  CHECK(reg.remove("f"));
  CHECK_FALSE(reg.remove("f"));
  CHECK_FALSE(reg.exists("f"));
}

TEST_CASE("with an invoke endpoint every unregistered name resolves to its Invoke URL") {
  FunctionRegistry reg("http://127.0.0.1:3001/");
  auto f = reg.find("anything");
  REQUIRE(f);
  CHECK(f->name == "anything");
  CHECK(f->target == "http://127.0.0.1:3001/2015-03-31/functions/anything/invocations");
  CHECK(f->timeout_ms == 900'000);  // the runtime behind the endpoint enforces the function's own
  CHECK(f->concurrency == FunctionRegistry::kDefaultInvokeEndpointConcurrency);
  CHECK(reg.exists("other"));
}

TEST_CASE("invoke-endpoint functions run as many invocations at once as configured; registered ones keep theirs") {
  FunctionRegistry reg("http://127.0.0.1:3001", 25, 30'000);
  CHECK(reg.find("sam-fn")->concurrency == 25);
  CHECK(reg.find("sam-fn")->timeout_ms == 30'000);
  reg.put({"rie", "http://127.0.0.1:9000/2015-03-31/functions/function/invocations", 3000, 1});
  reg.put({"sam-fn-registered", "http://127.0.0.1:3001/2015-03-31/functions/sam-fn/invocations", 3000, 4});
  CHECK(reg.find("rie")->concurrency == 1);
  CHECK(reg.find("sam-fn-registered")->concurrency == 4);
}

TEST_CASE("a registered function wins over the invoke-endpoint fallback, which is not listed") {
  FunctionRegistry reg("http://127.0.0.1:3001");
  reg.put({"local", "builtin:ok", 3000, 1});
  CHECK(reg.find("local")->target == "builtin:ok");
  CHECK(reg.find("remote")->target == "http://127.0.0.1:3001/2015-03-31/functions/remote/invocations");
  REQUIRE(reg.list().size() == 1);
  CHECK(reg.list()[0].name == "local");
}
