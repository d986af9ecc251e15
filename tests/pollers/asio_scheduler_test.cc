// AsioScheduler on a real io_context: waits end when the Clock reads their time, and a clock
// that jumps (the test-only clock hook) ends the waits it passed at once. Each test runs the
// io_context until its condition holds or a deadline passes; nothing sleeps.

#include "pollers/asio_scheduler.h"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <vector>

#include "core/clock.h"

using namespace esm;

namespace {

// Runs the io_context until done() or `limit` of real time passed.
template <typename Done>
bool run_until(boost::asio::io_context& ioc, Done done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    ioc.restart();
    ioc.run_for(std::chrono::milliseconds(5));
  }
  return done();
}

}  // namespace

TEST_CASE("a scheduled function runs once its time came, and a cancelled one never runs") {
  boost::asio::io_context ioc;
  ShiftableClock clock;
  pollers::AsioScheduler scheduler(ioc, clock);
  std::vector<int> ran;
  scheduler.run_at(clock.now_ms() + 20, [&] { ran.push_back(2); });
  scheduler.run_at(clock.now_ms(), [&] { ran.push_back(1); });
  auto cancelled = scheduler.run_at(clock.now_ms() + 10, [&] { ran.push_back(3); });
  cancelled->cancel();
  REQUIRE(run_until(ioc, [&] { return ran.size() == 2; }, std::chrono::seconds(5)));
  CHECK(ran == std::vector<int>{1, 2});
  ioc.restart();
  ioc.run_for(std::chrono::milliseconds(30));
  CHECK(ran.size() == 2);
}

TEST_CASE("moving the clock past a wait ends it at once") {
  boost::asio::io_context ioc;
  ShiftableClock clock;
  pollers::AsioScheduler scheduler(ioc, clock);
  bool minute = false;
  bool hour = false;
  scheduler.run_at(clock.now_ms() + 60'000, [&] { minute = true; });
  scheduler.run_at(clock.now_ms() + 3'600'000, [&] { hour = true; });
  clock.set_offset_ms(61'000);
  scheduler.clock_changed();
  REQUIRE(run_until(ioc, [&] { return minute; }, std::chrono::seconds(5)));
  CHECK_FALSE(hour);
}
