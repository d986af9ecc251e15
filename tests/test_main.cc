#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace {

// The code under test logs every state change at info; unit tests assert on values, so the
// log is off unless ESMD_TEST_LOG=1 asks for it while debugging a test.
class QuietLog : public Catch::TestEventListenerBase {
 public:
  using TestEventListenerBase::TestEventListenerBase;
  void testRunStarting(const Catch::TestRunInfo& info) override {
    TestEventListenerBase::testRunStarting(info);
    const char* verbose = std::getenv("ESMD_TEST_LOG");
    spdlog::set_level(verbose && *verbose == '1' ? spdlog::level::debug : spdlog::level::off);
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(QuietLog)
