#pragma once
// Clock: the one source of time. Production code takes a Clock& so that tests can pass
// FakeClock (tests/fakes/fake_clock.h) and move time by hand.

#include <chrono>
#include <cstdint>

namespace esm {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in milliseconds since the Unix epoch (what AWS shows as LastModified).
  virtual std::int64_t now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t now_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

}  // namespace esm
