#pragma once
// MemoryTrim: gives memory that esmd freed back to the system, every few seconds.
//
// glibc's malloc keeps freed memory for reuse. After a burst (a 500-shard Kinesis delivery, a
// queue drained of 100,000 messages) the heap is mostly free but stays resident: 190 MiB of RSS
// that nothing uses, measured with bench/scaling.py until malloc_trim(0) was called from a
// debugger (235 -> 47 MiB). malloc_trim(0) returns the free pages of every arena (MADV_DONTNEED)
// and costs little when there is nothing to return, so a timer calls it.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <chrono>

namespace esm::server {

class MemoryTrim {
 public:
  MemoryTrim(boost::asio::io_context& ioc, std::chrono::milliseconds every);
  void start();
  void stop();
  // Trims now; true when the allocator returned memory to the system (false where it cannot).
  static bool trim_now();

 private:
  void arm();

  boost::asio::steady_timer timer_;
  const std::chrono::milliseconds every_;
  std::atomic<bool> stopped_{false};
};

}  // namespace esm::server
