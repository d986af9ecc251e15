#pragma once
// The pollers test binary replaces the global operator new (allocation_counter.cc) to count heap
// allocations, so a test can show that a hot path allocates nothing.

namespace esm::test {

// Allocations through operator new since the binary started, on every thread.
long allocation_count();

}  // namespace esm::test
