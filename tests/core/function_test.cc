#include <catch2/catch.hpp>

#include <string>

#include "core/function.h"

using namespace esm;

TEST_CASE("each documented function target form is recognised") {
  CHECK(*parse_target("http://127.0.0.1:8080/2015-03-31/functions/function/invocations") == TargetKind::kHttp);
  CHECK(*parse_target("http://localhost") == TargetKind::kHttp);
  CHECK(*parse_target("exec:./handler.sh --flag") == TargetKind::kExec);
  CHECK(*parse_target("builtin:ok") == TargetKind::kBuiltinOk);
  CHECK(*parse_target("builtin:fail") == TargetKind::kBuiltinFail);
}

TEST_CASE("an exec target without a command is refused") {
  auto r = parse_target("exec:");
  REQUIRE_FALSE(r);
  CHECK(r.status().code() == Code::kInvalidParameter);
  CHECK(r.status().message() == "exec: target needs a command");
}

TEST_CASE("an http target without a host is refused") {
  for (const char* t : {"http://", "http:///path", "http://:8080/x"}) {
    INFO(t);
    auto r = parse_target(t);
    REQUIRE_FALSE(r);
    CHECK(r.status().message() == std::string("http target needs a host: ") + t);
  }
}

TEST_CASE("unsupported target schemes are refused with the list of supported forms") {
  for (const char* t : {"https://example.com/x", "ftp://x", "builtin:maybe", "", "EXEC:ls"}) {
    INFO(t);
    auto r = parse_target(t);
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == Code::kInvalidParameter);
    CHECK(r.status().message() == std::string("Unsupported function target '") + t +
                                      "': use http://HOST:PORT/PATH, exec:COMMAND, builtin:ok or builtin:fail");
  }
}

TEST_CASE("function names are 1 to 64 letters, digits, dashes and underscores") {
  CHECK(is_valid_function_name("a"));
  CHECK(is_valid_function_name("My_Fn-1"));
  CHECK(is_valid_function_name(std::string(64, 'x')));
  CHECK_FALSE(is_valid_function_name(""));
  CHECK_FALSE(is_valid_function_name(std::string(65, 'x')));
  CHECK_FALSE(is_valid_function_name("a.b"));
  CHECK_FALSE(is_valid_function_name("a:b"));
  CHECK_FALSE(is_valid_function_name("a b"));
  CHECK_FALSE(is_valid_function_name("a/b"));
}
