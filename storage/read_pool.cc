#include "storage/read_pool.h"

namespace esm::storage {

Result<std::unique_ptr<ReadPool>> ReadPool::open(const std::string& path, int n) {
  auto pool = std::unique_ptr<ReadPool>(new ReadPool());
  for (int i = 0; i < n; ++i) {
    auto c = Connection::open(path, Durability::kNormal);
    if (!c) return c.status();
    if (Status s = (*c)->exec("PRAGMA query_only=ON"); !s.is_ok()) return s;
    auto slot = std::make_unique<Slot>();
    slot->conn = std::move(c).value();
    pool->slots_.push_back(std::move(slot));
  }
  return pool;
}

ReadPool::Slot& ReadPool::acquire() {
  const std::size_t n = slots_.size();
  const std::size_t start = next_.fetch_add(1) % n;
  for (std::size_t i = 0; i < n; ++i) {
    Slot& s = *slots_[(start + i) % n];
    if (s.mu.try_lock()) return s;
  }
  Slot& s = *slots_[start];
  s.mu.lock();
  return s;
}

}  // namespace esm::storage
