#pragma once
// PositionSet: the positions of a partition read and not finished yet (PartitionPipeline), whose
// oldest is where the partition's checkpoint stays. Reading goes forward, so positions arrive in
// increasing order and sit in a deque in that order, each marked when it finishes; finished
// ones leave from the front. Lanes finish out of order, so a finished position may wait behind
// an older one. A std::set cost an allocation and a rebalance per record delivered; this costs
// a lookup per finish (by offset when the positions are consecutive, else a binary
// search) and an allocation per few dozen records.

#include <cstddef>
#include <cstdint>
#include <deque>

namespace esm::pollers {

class PositionSet {
 public:
  // Adds `position`. In order is the common case; an older one is placed where it belongs, and
  // one already held is left as it is.
  void insert(std::int64_t position);
  // Marks `position` finished; a position not held is ignored.
  void erase(std::int64_t position);
  bool empty() const { return live_ == 0; }
  std::size_t size() const { return live_; }
  // The oldest position not finished; the set must not be empty.
  std::int64_t first() const { return entries_.front().position; }

 private:
  struct Entry {
    std::int64_t position;
    bool finished;
  };
  std::deque<Entry>::iterator find(std::int64_t position);

  std::deque<Entry> entries_;  // increasing positions; the front is never finished
  std::size_t live_ = 0;
};

}  // namespace esm::pollers
