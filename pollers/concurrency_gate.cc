#include "pollers/concurrency_gate.h"

#include <algorithm>
#include <cassert>

namespace esm::pollers {

std::optional<ConcurrencyGate::Start> ConcurrencyGate::acquire(const std::string& key, int limit, Start start) {
  std::lock_guard lk(mu_);
  Slot& s = slots_[key];
  s.limit = static_cast<std::size_t>(std::max(limit, 1));
  // FIFO: nobody overtakes a queued start, even when the limit just grew.
  if (s.in_flight < s.limit && s.waiting.empty()) {
    ++s.in_flight;
    return start;
  }
  s.waiting.push_back(std::move(start));
  return std::nullopt;
}

std::vector<ConcurrencyGate::Start> ConcurrencyGate::release(const std::string& key) {
  std::vector<Start> granted;
  std::lock_guard lk(mu_);
  auto it = slots_.find(key);
  assert(it != slots_.end() && it->second.in_flight > 0);
  if (it == slots_.end()) return granted;
  Slot& s = it->second;
  if (s.in_flight > 0) --s.in_flight;
  while (s.in_flight < s.limit && !s.waiting.empty()) {
    granted.push_back(std::move(s.waiting.front()));
    s.waiting.pop_front();
    ++s.in_flight;
  }
  if (s.in_flight == 0 && s.waiting.empty()) slots_.erase(it);
  return granted;
}

std::size_t ConcurrencyGate::in_flight(const std::string& key) const {
  std::lock_guard lk(mu_);
  auto it = slots_.find(key);
  return it == slots_.end() ? 0 : it->second.in_flight;
}

std::size_t ConcurrencyGate::queued(const std::string& key) const {
  std::lock_guard lk(mu_);
  auto it = slots_.find(key);
  return it == slots_.end() ? 0 : it->second.waiting.size();
}

}  // namespace esm::pollers
