#include "server/memory_trim.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace esm::server {

MemoryTrim::MemoryTrim(boost::asio::io_context& ioc, std::chrono::milliseconds every)
    : timer_(ioc), every_(every) {}

void MemoryTrim::start() { arm(); }

// Called from the thread that stops esmd: the timer itself belongs to the I/O threads, so
// only the flag is set; the io_context's stop ends the wait.
void MemoryTrim::stop() { stopped_ = true; }

bool MemoryTrim::trim_now() {
#if defined(__GLIBC__)
  return malloc_trim(0) == 1;
#else
  return false;
#endif
}

void MemoryTrim::arm() {
  timer_.expires_after(every_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    trim_now();
    arm();
  });
}

}  // namespace esm::server
