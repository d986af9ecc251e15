#include <catch2/catch.hpp>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "server/memory_trim.h"

using esm::server::MemoryTrim;

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
// The sanitizers' allocators are not glibc's: malloc_trim has nothing of theirs to return.
namespace {

long rss_kib() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// 64 MiB of heap that malloc keeps after free: 32 KiB blocks (below the mmap threshold)
// pinned in place by the small live block after each of them.
struct Fragmented {
  std::vector<void*> small;
  Fragmented() {
    std::vector<void*> big;
    for (int i = 0; i < 2048; ++i) {
      void* b = std::malloc(32 * 1024);
      static_cast<volatile char*>(b)[0] = 1;
      for (int off = 0; off < 32 * 1024; off += 4096) static_cast<volatile char*>(b)[off] = 1;
      big.push_back(b);
      small.push_back(std::malloc(64));
    }
    for (void* b : big) std::free(b);
  }
  ~Fragmented() {
    for (void* s : small) std::free(s);
  }
};

}  // namespace

TEST_CASE("the trim timer gives freed heap back to the system") {
  Fragmented heap;
  const long before = rss_kib();
  boost::asio::io_context ioc;
  MemoryTrim trim(ioc, std::chrono::milliseconds(10));
  trim.start();
  ioc.run_for(std::chrono::milliseconds(100));
  // Most of the 64 MiB freed above is no longer resident.
  CHECK(before - rss_kib() > 48 * 1024);
  trim.stop();
}
#endif

TEST_CASE("a stopped trim timer ends its wait") {
  boost::asio::io_context ioc;
  MemoryTrim trim(ioc, std::chrono::milliseconds(5));
  trim.start();
  trim.stop();
  const auto t0 = std::chrono::steady_clock::now();
  ioc.run_for(std::chrono::seconds(2));  // returns as soon as nothing is left to do
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
}
