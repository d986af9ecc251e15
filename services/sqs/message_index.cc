// Queue's message index: what memory keeps of each message and the orders a receive takes
// them in (queue.h). Pure bookkeeping: the rows are written by the engine before it calls these.
#include <algorithm>
#include <cassert>
#include <functional>

#include "services/sqs/queue.h"

namespace esm::sqs {
namespace {

// Tombstones are dropped in one pass once they outnumber live slots (and are many).
constexpr std::size_t kCompactAfter = 4096;

constexpr auto kMinHeap = std::greater<>{};

bool by_rowid(const Slot& s, std::int64_t rowid) { return s.rowid < rowid; }

}  // namespace

Slot* Queue::find(std::int64_t rowid) {
  if (slots.empty()) return nullptr;
  // Rowids are distinct and sorted, so the slot of rowid is at most rowid - front's rowid
  // places in; it is exactly there while no rowid between was skipped (the usual case).
  auto end = slots.end();
  const std::int64_t gap = rowid - slots.front().rowid;
  if (gap >= 0 && gap < static_cast<std::int64_t>(slots.size())) {
    Slot& guess = slots[static_cast<std::size_t>(gap)];
    if (guess.rowid == rowid) return guess.gone ? nullptr : &guess;
    end = slots.begin() + gap;
  }
  auto it = std::lower_bound(slots.begin(), end, rowid, by_rowid);
  if (it == slots.end() || it->rowid != rowid || it->gone) return nullptr;
  return &*it;
}

void Queue::add(Slot s, const std::string& group_id, std::int64_t now_ms) {
  s.gone = false;
  s.ready = s.visible_at_ms <= now_ms;
  s.in_flight = !s.ready && s.receive_count > 0;
  if (fifo) {
    auto& g = groups[group_id];
    if (!g) {
      g = std::make_unique<Group>();
      g->name = group_id;
    }
    s.group = g.get();
    g->rowids.insert(s.rowid);
    if (s.in_flight) ++g->in_flight;
  }
  // A rowid above every slot appends; a reused one (SQLite reuses the largest after it was
  // deleted) takes its tombstone's place.
  auto it = std::lower_bound(slots.begin(), slots.end(), s.rowid, by_rowid);
  if (it != slots.end() && it->rowid == s.rowid) {
    assert(it->gone);
    *it = s;
  } else if (it == slots.end()) {
    slots.push_back(s);
  } else {
    slots.insert(it, s);
  }
  ++live;
  if (s.ready) {
    if (!fifo) {
      ready.push_back(s.rowid);
      std::push_heap(ready.begin(), ready.end(), kMinHeap);
    }
  } else {
    waiting.emplace_back(s.visible_at_ms, s.rowid);
    std::push_heap(waiting.begin(), waiting.end(), kMinHeap);
  }
  if (s.group) refresh(s.group);
}

void Queue::remove(std::int64_t rowid) {
  Slot* s = find(rowid);
  if (!s) return;
  Group* g = s->group;
  if (g) {
    g->rowids.erase(rowid);
    if (s->in_flight) --g->in_flight;
  }
  s->gone = true;
  --live;
  while (!slots.empty() && slots.front().gone) slots.pop_front();
  while (!slots.empty() && slots.back().gone) slots.pop_back();
  if (slots.size() > kCompactAfter && slots.size() > 2 * live)
    std::erase_if(slots, [](const Slot& x) { return x.gone; });
  if (live == 0) {
    // Nothing left for the heaps' stale entries to name.
    ready.clear();
    waiting.clear();
  }
  if (g) refresh(g);
}

void Queue::clear_messages() {
  slots.clear();
  live = 0;
  ready.clear();
  waiting.clear();
  ready_groups.clear();
  groups.clear();
}

void Queue::promote(std::int64_t now_ms) {
  while (!waiting.empty() && waiting.front().first <= now_ms) {
    const auto [at, rowid] = waiting.front();
    std::pop_heap(waiting.begin(), waiting.end(), kMinHeap);
    waiting.pop_back();
    Slot* s = find(rowid);
    if (!s || s->ready || s->visible_at_ms != at) continue;  // stale
    s->ready = true;
    if (s->in_flight) {
      s->in_flight = false;
      if (s->group) --s->group->in_flight;
    }
    if (s->group) {
      refresh(s->group);
    } else {
      ready.push_back(rowid);
      std::push_heap(ready.begin(), ready.end(), kMinHeap);
    }
  }
}

void Queue::mark_received(Slot& s, std::int64_t visible_at_ms) {
  s.visible_at_ms = visible_at_ms;
  s.ready = false;
  if (!s.in_flight) {
    s.in_flight = true;
    if (s.group) ++s.group->in_flight;
  }
  waiting.emplace_back(visible_at_ms, s.rowid);
  std::push_heap(waiting.begin(), waiting.end(), kMinHeap);
  if (s.group) refresh(s.group);
}

void Queue::set_visible_at(Slot& s, std::int64_t visible_at_ms) {
  s.visible_at_ms = visible_at_ms;
  waiting.emplace_back(visible_at_ms, s.rowid);
  std::push_heap(waiting.begin(), waiting.end(), kMinHeap);
}

std::int64_t Queue::first_ready() {
  while (!ready.empty()) {
    const std::int64_t rowid = ready.front();
    const Slot* s = find(rowid);
    if (s && s->ready) return rowid;
    std::pop_heap(ready.begin(), ready.end(), kMinHeap);
    ready.pop_back();
  }
  return 0;
}

std::optional<std::int64_t> Queue::next_visible_at() const {
  if (waiting.empty()) return std::nullopt;
  return waiting.front().first;
}

void Queue::refresh(Group* g) {
  if (g->ready_key) {
    ready_groups.erase({*g->ready_key, g});
    g->ready_key.reset();
  }
  if (g->rowids.empty() && g->in_flight == 0) {
    groups.erase(g->name);
    return;
  }
  if (g->in_flight > 0 || g->rowids.empty()) return;
  const std::int64_t head = *g->rowids.begin();
  const Slot* s = find(head);
  if (!s || !s->ready) return;
  g->ready_key = head;
  ready_groups.emplace(head, g);
}

}  // namespace esm::sqs
