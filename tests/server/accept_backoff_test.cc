#include <catch2/catch.hpp>

#include <boost/asio/error.hpp>

#include "server/http_server.h"

using esm::server::AcceptBackoff;
using std::chrono::milliseconds;

TEST_CASE("a failing accept waits 10 ms, doubling to 1 s, and starts over after a success") {
  AcceptBackoff b;
  const auto emfile = boost::asio::error::make_error_code(boost::asio::error::no_descriptors);
  std::vector<milliseconds> waits;
  for (int i = 0; i < 9; ++i) waits.push_back(b.failed(emfile, "test "));
  CHECK(waits == std::vector<milliseconds>{milliseconds(10), milliseconds(20), milliseconds(40), milliseconds(80),
                                           milliseconds(160), milliseconds(320), milliseconds(640),
                                           milliseconds(1000), milliseconds(1000)});
  CHECK(b.failures() == 9);
  b.succeeded();
  CHECK(b.failed(emfile, "test ") == milliseconds(10));
}
