#include <catch2/catch.hpp>

#include <string>

#include "api/request_guard.h"

using namespace esm::api;

namespace {

Request request(std::string method, std::vector<std::pair<std::string, std::string>> headers) {
  Request r;
  r.method = std::move(method);
  r.path = "/2015-03-31/event-source-mappings/";
  r.headers = std::move(headers);
  return r;
}

std::string header(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "<none>";
}

}  // namespace

TEST_CASE("loopback hosts: localhost, *.localhost, 127.0.0.0/8 and [::1], with or without a port") {
  for (const char* h : {"localhost", "LOCALHOST:9070", "api.localhost", "localhost.", "127.0.0.1", "127.0.0.1:9070",
                        "127.1.2.3:80", "[::1]", "[::1]:9070"}) {
    INFO(h);
    CHECK(RequestGuard::is_loopback_host(h));
  }
  for (const char* h : {"evil.example", "evil.example:9070", "localhost.evil.example", "128.0.0.1", "127.0.0",
                        "127.0.0.1.evil", "127.0.0.256", "0.0.0.0", "[::2]", "10.0.0.1:9070", "127.0.0.01234"}) {
    INFO(h);
    CHECK_FALSE(RequestGuard::is_loopback_host(h));
  }
  CHECK(RequestGuard::is_loopback_address("127.0.0.1"));
  CHECK(RequestGuard::is_loopback_address("::1"));
  CHECK_FALSE(RequestGuard::is_loopback_address("0.0.0.0"));
  CHECK_FALSE(RequestGuard::is_loopback_address("::"));
}

TEST_CASE("on a loopback listener a request for another Host is refused with a 403 naming it") {
  RequestGuard guard({true, {"esmd.test"}, {}});
  CHECK_FALSE(guard.check(request("GET", {{"host", "127.0.0.1:9070"}})));
  CHECK_FALSE(guard.check(request("GET", {})));  // HTTP/1.0 without a Host
  CHECK_FALSE(guard.check(request("GET", {{"host", "ESMD.test:9070"}})));
  auto refused = guard.check(request("GET", {{"host", "rebind.evil.example:9070"}}));
  REQUIRE(refused);
  CHECK(refused->status == 403);
  CHECK(header(*refused, "X-Amzn-Errortype") == "AccessDeniedException");
  CHECK_THAT(refused->body, Catch::Contains("Host 'rebind.evil.example:9070' refused"));
  // Not on loopback (e.g. 0.0.0.0 in a container): any Host.
  RequestGuard open({false, {}, {}});
  CHECK_FALSE(open.check(request("GET", {{"host", "esmd:9070"}})));
}

TEST_CASE("a request with an Origin is refused unless the origin is allowed; an allowed preflight is answered") {
  RequestGuard none({true, {}, {}});
  auto refused = none.check(request("POST", {{"host", "localhost"}, {"origin", "http://evil.example"}}));
  REQUIRE(refused);
  CHECK(refused->status == 403);
  CHECK_THAT(refused->body, Catch::Contains("Cross-origin request from 'http://evil.example' refused"));
  CHECK(header(*refused, "Access-Control-Allow-Origin") == "<none>");

  RequestGuard some({true, {}, {"http://localhost:3000"}});
  CHECK(some.check(request("POST", {{"origin", "http://localhost:3001"}})));
  CHECK_FALSE(some.check(request("POST", {{"origin", "http://localhost:3000"}})));
  auto preflight = some.check(request("OPTIONS", {{"origin", "http://localhost:3000"},
                                                  {"access-control-request-method", "POST"},
                                                  {"access-control-request-headers", "authorization,x-amz-date"}}));
  REQUIRE(preflight);
  CHECK(preflight->status == 200);
  CHECK(preflight->body.empty());
  CHECK(header(*preflight, "Access-Control-Allow-Origin") == "http://localhost:3000");
  CHECK(header(*preflight, "Access-Control-Allow-Headers") == "authorization,x-amz-date");
  CHECK_THAT(header(*preflight, "Access-Control-Allow-Methods"), Catch::Contains("POST"));

  RequestGuard any({false, {}, {"*"}});
  CHECK_FALSE(any.check(request("GET", {{"origin", "https://anything.example"}})));
  Response r;
  RequestGuard::decorate("https://anything.example", r);
  CHECK(header(r, "Access-Control-Allow-Origin") == "https://anything.example");
  CHECK_THAT(header(r, "Access-Control-Expose-Headers"), Catch::Contains("x-amzn-RequestId"));
}
