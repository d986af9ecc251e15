#pragma once
// ConcurrencyGate: at most `limit` invocations in flight per key, the rest queued FIFO.
//
// The invoker keys http targets by URL and exec targets by function, with the function's
// Concurrency as the limit. The default of 1 is what keeps an aws-lambda-rie alive: a second
// concurrent request to one RIE panics it and kills the container (data-plane.md §5.2).
//
// A plain data structure: it runs nothing itself. acquire() either hands the start back to
// the caller (a slot is free) or queues it; release() hands back the queued starts that now
// hold a slot. Callers run (post) them. The limit is taken from each acquire(), so a changed
// registration applies from the next invocation on. Thread safety: any thread (one mutex).

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace esm::pollers {

class ConcurrencyGate {
 public:
  using Start = std::function<void()>;

  // A slot was free: returns `start`, which now holds it. Otherwise queues it; nullopt.
  [[nodiscard]] std::optional<Start> acquire(const std::string& key, int limit, Start start);
  // Frees one slot of key. Returns the queued starts that now hold a slot, oldest first.
  [[nodiscard]] std::vector<Start> release(const std::string& key);

  std::size_t in_flight(const std::string& key) const;
  std::size_t queued(const std::string& key) const;

 private:
  struct Slot {
    std::size_t limit = 1;
    std::size_t in_flight = 0;
    std::deque<Start> waiting;
  };
  mutable std::mutex mu_;
  std::map<std::string, Slot> slots_;  // only keys with work in flight or queued
};

}  // namespace esm::pollers
