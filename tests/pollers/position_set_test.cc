// PositionSet against std::set, which it replaced in PartitionPipeline: the same size, emptiness
// and oldest position after every step of in-order reads finished out of order, plus the
// uncommon cases (an older position, a repeated one, erasing what is not held).
#include "pollers/position_set.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <set>

namespace esm::pollers {
namespace {

void check_same(const PositionSet& s, const std::set<std::int64_t>& model) {
  REQUIRE(s.size() == model.size());
  REQUIRE(s.empty() == model.empty());
  if (!model.empty()) REQUIRE(s.first() == *model.begin());
}

TEST_CASE("a position set keeps the oldest unfinished position as a std::set would") {
  // Consecutive positions (a Kinesis shard read without filters: found by offset), then gaps.
  const int max_gap = GENERATE(1, 3);
  std::mt19937 rng(7);
  PositionSet s;
  std::set<std::int64_t> model;
  std::int64_t next = 100;
  for (int step = 0; step < 20000; ++step) {
    const int action = static_cast<int>(rng() % 10);
    if (action < 5) {  // read forward, with gaps (filtered records are never inserted)
      next += 1 + static_cast<std::int64_t>(rng() % static_cast<unsigned>(max_gap));
      s.insert(next);
      model.insert(next);
    } else if (!model.empty()) {  // a lane finishes any unfinished position
      auto it = model.begin();
      std::advance(it, static_cast<long>(rng() % model.size()));
      const std::int64_t p = *it;
      s.erase(p);
      model.erase(p);
    }
    check_same(s, model);
  }
}

TEST_CASE("a position set places an older position, ignores a repeat and an unknown erase") {
  PositionSet s;
  s.insert(10);
  s.insert(20);
  s.insert(15);  // older than the newest: placed in order
  CHECK(s.size() == 3);
  CHECK(s.first() == 10);
  s.insert(15);  // already held
  CHECK(s.size() == 3);
  s.erase(12);  // never held
  s.erase(10);
  s.erase(10);  // already finished
  CHECK(s.size() == 2);
  CHECK(s.first() == 15);
  s.erase(20);  // finished behind an older one: 15 stays first
  CHECK(s.first() == 15);
  s.insert(20);  // held again after it finished
  CHECK(s.size() == 2);
  s.insert(5);
  CHECK(s.first() == 5);
  s.erase(5);
  s.erase(15);
  s.erase(20);
  CHECK(s.empty());
  s.insert(1);  // older than anything seen, on an empty set
  CHECK(s.first() == 1);
}

}  // namespace
}  // namespace esm::pollers
