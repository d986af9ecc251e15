#include <catch2/catch.hpp>

#include "storage/function_store.h"

using namespace esm;
using namespace esm::storage;

namespace {
std::unique_ptr<Connection> fresh_db() {
  auto c = Connection::open(":memory:", Durability::kNormal);
  REQUIRE(c);
  REQUIRE(migrate(**c).is_ok());
  return std::move(c).value();
}
}  // namespace

TEST_CASE("an empty database has no registered functions") {
  auto c = fresh_db();
  CHECK(load_functions(*c)->empty());
}

TEST_CASE("registered functions load back with every field, in name order") {
  auto c = fresh_db();
  REQUIRE(put_function(*c, {"zeta", "http://127.0.0.1:8080/x", 12000, 3}).is_ok());
  REQUIRE(put_function(*c, {"alpha", "exec:cat", 500, 1}).is_ok());
  auto fs = *load_functions(*c);
  REQUIRE(fs.size() == 2);
  CHECK(fs[0].name == "alpha");
  CHECK(fs[0].target == "exec:cat");
  CHECK(fs[0].timeout_ms == 500);
  CHECK(fs[0].concurrency == 1);
  CHECK(fs[1].name == "zeta");
  CHECK(fs[1].target == "http://127.0.0.1:8080/x");
  CHECK(fs[1].timeout_ms == 12000);
  CHECK(fs[1].concurrency == 3);
}

TEST_CASE("registering a function again replaces it") {
  auto c = fresh_db();
  REQUIRE(put_function(*c, {"f", "builtin:ok", 3000, 1}).is_ok());
  REQUIRE(put_function(*c, {"f", "builtin:fail", 1000, 2}).is_ok());
  auto fs = *load_functions(*c);
  REQUIRE(fs.size() == 1);
  CHECK(fs[0].target == "builtin:fail");
  CHECK(fs[0].timeout_ms == 1000);
}

TEST_CASE("deleting a function removes it; deleting an unknown one is NotFound") {
  auto c = fresh_db();
  REQUIRE(put_function(*c, {"f", "builtin:ok", 3000, 1}).is_ok());
  REQUIRE(delete_function(*c, "f").is_ok());
  CHECK(load_functions(*c)->empty());
  Status s = delete_function(*c, "f");
  CHECK(s.code() == Code::kNotFound);
  CHECK(s.message() == "Function not found: f");
}
