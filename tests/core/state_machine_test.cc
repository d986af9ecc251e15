#include <catch2/catch.hpp>

#include "core/state_machine.h"

using namespace esm;

TEST_CASE("create goes through Creating to Enabled, or straight to Disabled") {
  auto t = on_create(true);
  CHECK(t.now == MappingState::kCreating);
  CHECK(t.settle_to == MappingState::kEnabled);
  auto d = on_create(false);
  CHECK(d.now == MappingState::kDisabled);
  CHECK_FALSE(d.settle_to);
}

TEST_CASE("update flips Enabled through Enabling and Disabling") {
  auto off = on_update(MappingState::kEnabled, false);
  REQUIRE(off);
  CHECK(off->now == MappingState::kDisabling);
  CHECK(off->settle_to == MappingState::kDisabled);
  auto on = on_update(MappingState::kDisabled, true);
  REQUIRE(on);
  CHECK(on->now == MappingState::kEnabling);
  CHECK(on->settle_to == MappingState::kEnabled);
}

TEST_CASE("an update that does not flip Enabled goes through Updating back to the same state") {
  for (auto s : {MappingState::kEnabled, MappingState::kDisabled}) {
    auto t = on_update(s, std::nullopt);
    REQUIRE(t);
    CHECK(t->now == MappingState::kUpdating);
    CHECK(t->settle_to == s);
    auto same = on_update(s, s == MappingState::kEnabled);
    REQUIRE(same);
    CHECK(same->now == MappingState::kUpdating);
  }
}

TEST_CASE("update and delete in a transitional state are refused as in use") {
  for (auto s : {MappingState::kCreating, MappingState::kEnabling, MappingState::kDisabling, MappingState::kUpdating,
                 MappingState::kDeleting}) {
    auto u = on_update(s, std::nullopt);
    REQUIRE_FALSE(u);
    CHECK(u.status().code() == Code::kInUse);
    CHECK(u.status().message() == kUpdateInUse);
    auto d = on_delete(s);
    REQUIRE_FALSE(d);
    CHECK(d.status().message() == kDeleteInUse);
  }
}

TEST_CASE("delete from a stable state goes to Deleting and then removes the mapping") {
  auto t = on_delete(MappingState::kDisabled);
  REQUIRE(t);
  CHECK(t->now == MappingState::kDeleting);
  CHECK(t->removes);
}
