#include "pollers/concurrency_gate.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace esm::pollers {
namespace {

TEST_CASE("with a limit of 1 the second start waits until the first releases") {
  ConcurrencyGate gate;
  std::vector<int> ran;
  auto first = gate.acquire("rie", 1, [&] { ran.push_back(1); });
  REQUIRE(first);
  CHECK_FALSE(gate.acquire("rie", 1, [&] { ran.push_back(2); }));
  CHECK_FALSE(gate.acquire("rie", 1, [&] { ran.push_back(3); }));
  CHECK(gate.in_flight("rie") == 1);
  CHECK(gate.queued("rie") == 2);
  auto next = gate.release("rie");
  REQUIRE(next.size() == 1);
  next[0]();
  CHECK(ran == std::vector<int>{2});
  auto last = gate.release("rie");
  REQUIRE(last.size() == 1);
  last[0]();
  CHECK(ran == std::vector<int>{2, 3});
  CHECK(gate.release("rie").empty());
  CHECK(gate.in_flight("rie") == 0);
}

TEST_CASE("keys are independent") {
  ConcurrencyGate gate;
  CHECK(gate.acquire("a", 1, [] {}));
  CHECK(gate.acquire("b", 1, [] {}));
  CHECK_FALSE(gate.acquire("a", 1, [] {}));
}

TEST_CASE("a limit of n lets n run and queues the rest in FIFO order") {
  ConcurrencyGate gate;
  std::vector<int> order;
  int granted = 0;
  for (int i = 0; i < 5; ++i)
    if (gate.acquire("k", 3, [&order, i] { order.push_back(i); })) ++granted;
  CHECK(granted == 3);
  for (auto& s : gate.release("k")) s();
  for (auto& s : gate.release("k")) s();
  CHECK(order == std::vector<int>{3, 4});
}

TEST_CASE("a raised limit lets queued starts run at the next release, and nobody overtakes the queue") {
  ConcurrencyGate gate;
  REQUIRE(gate.acquire("k", 1, [] {}));
  CHECK_FALSE(gate.acquire("k", 1, [] {}));
  // The limit is now 3, but one start is still queued: the newcomer queues behind it.
  CHECK_FALSE(gate.acquire("k", 3, [] {}));
  CHECK(gate.release("k").size() == 2);
  CHECK(gate.in_flight("k") == 2);
}

}  // namespace
}  // namespace esm::pollers
