#pragma once
// Clock: the one source of time. Production code takes a Clock& so that tests can pass
// FakeClock (tests/fakes/fake_clock.h) and move time by hand.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace esm {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in milliseconds since the Unix epoch (what AWS shows as LastModified).
  virtual std::int64_t now_ms() const = 0;
};

class SystemClock : public Clock {
 public:
  std::int64_t now_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

// The system clock plus an offset, so that an integration test can move a running esmd's
// time forward (server/app.cc installs the only way to set it, a test-only signal, when
// ESMD_TEST_CLOCK_FILE is set; nothing reachable from the network can). The offset is 0
// otherwise. Thread safety: any thread.
class ShiftableClock final : public SystemClock {
 public:
  std::int64_t now_ms() const override { return SystemClock::now_ms() + offset_ms_.load(std::memory_order_relaxed); }
  void set_offset_ms(std::int64_t offset) { offset_ms_.store(offset, std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> offset_ms_{0};
};

}  // namespace esm
