#include "pollers/position_set.h"

#include <algorithm>

namespace esm::pollers {

std::deque<PositionSet::Entry>::iterator PositionSet::find(std::int64_t position) {
  // Without filtered-out records the positions are consecutive: try the position's own offset
  // from the front before searching.
  if (!entries_.empty() && position >= entries_.front().position) {
    const auto offset = static_cast<std::uint64_t>(position - entries_.front().position);
    if (offset < entries_.size() && entries_[offset].position == position)
      return entries_.begin() + static_cast<std::ptrdiff_t>(offset);
  }
  return std::lower_bound(entries_.begin(), entries_.end(), position,
                          [](const Entry& e, std::int64_t p) { return e.position < p; });
}

void PositionSet::insert(std::int64_t position) {
  if (entries_.empty() || entries_.back().position < position) {
    entries_.push_back({position, false});
    ++live_;
    return;
  }
  auto it = find(position);
  if (it != entries_.end() && it->position == position) {
    if (!it->finished) return;
    it->finished = false;
  } else {
    entries_.insert(it, {position, false});
  }
  ++live_;
}

void PositionSet::erase(std::int64_t position) {
  auto it = find(position);
  if (it == entries_.end() || it->position != position || it->finished) return;
  it->finished = true;
  --live_;
  while (!entries_.empty() && entries_.front().finished) entries_.pop_front();
}

}  // namespace esm::pollers
