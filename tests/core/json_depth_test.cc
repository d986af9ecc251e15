#include "core/json_depth.h"

#include <catch2/catch.hpp>
#include <string>

using esm::json_depth_within;

TEST_CASE("json_depth_within accepts documents up to the limit and refuses deeper ones") {
  CHECK(json_depth_within(""));
  CHECK(json_depth_within("{\"a\": [1, {\"b\": []}]}", 4));
  CHECK_FALSE(json_depth_within("{\"a\": [1, {\"b\": []}]}", 3));
  CHECK(json_depth_within(std::string(512, '[') + std::string(512, ']')));
  CHECK_FALSE(json_depth_within(std::string(513, '[')));
  CHECK_FALSE(json_depth_within(std::string(1000000, '[')));
}

TEST_CASE("json_depth_within counts siblings once, not their sum") {
  std::string wide = "[";
  for (int i = 0; i < 10000; ++i) wide += "[1],";
  wide += "[]]";
  CHECK(json_depth_within(wide, 2));
}

TEST_CASE("json_depth_within ignores brackets inside strings, escaped quotes included") {
  CHECK(json_depth_within("{\"k\": \"[[[[[[\"}", 1));
  CHECK(json_depth_within("{\"k\": \"\\\"[[[[\\\\\"}", 1));
  CHECK_FALSE(json_depth_within("{\"k\": \"\\\\\", \"x\": [[[]]]}", 3));
}
