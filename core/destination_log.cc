#include "core/destination_log.h"

#include <algorithm>

namespace esm {

void DestinationLog::append(DestinationEntry e) {
  std::lock_guard lock(mu_);
  e.seq = next_seq_++;
  auto& q = by_arn_[e.arn];
  q.push_back(std::move(e));
  while (q.size() > kMaxPerArn) q.pop_front();
}

std::vector<DestinationEntry> DestinationLog::list(const std::string& arn) const {
  std::lock_guard lock(mu_);
  std::vector<DestinationEntry> out;
  for (const auto& [a, q] : by_arn_)
    if (arn.empty() || a == arn) out.insert(out.end(), q.begin(), q.end());
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.seq < y.seq; });
  return out;
}

}  // namespace esm
