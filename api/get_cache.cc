#include "api/get_cache.h"

namespace esm::api {

std::optional<GetCache::Entry> GetCache::find(std::string_view uuid, std::uint64_t version, std::int64_t now_ms) {
  std::lock_guard lk(mu_);
  if (version != held_) return std::nullopt;
  auto it = entries_.find(uuid);
  if (it == entries_.end()) return std::nullopt;
  if (it->second.settle_at_ms > 0 && it->second.settle_at_ms <= now_ms) return std::nullopt;
  hits_.fetch_add(1, std::memory_order_relaxed);
  return it->second;
}

void GetCache::put(std::uint64_t version, std::string_view uuid, Entry e) {
  std::lock_guard lk(mu_);
  // A newer version empties the cache; an older one (a read that began before a commit) is
  // not kept.
  if (version != held_) {
    if (version < held_ || version != current()) return;
    entries_.clear();
    bytes_ = 0;
    held_ = version;
  }
  const std::size_t size = uuid.size() + e.region.size() + e.body.size();
  if (bytes_ + size > kMaxBytes) {
    entries_.clear();
    bytes_ = 0;
  }
  auto [it, added] = entries_.try_emplace(std::string(uuid));
  if (!added) bytes_ -= it->first.size() + it->second.region.size() + it->second.body.size();
  it->second = std::move(e);
  bytes_ += size;
}

std::size_t GetCache::size() {
  std::lock_guard lk(mu_);
  return entries_.size();
}

}  // namespace esm::api
