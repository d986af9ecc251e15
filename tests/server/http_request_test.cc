#include <catch2/catch.hpp>

#include <boost/beast/http.hpp>
#include <string>
#include <utility>
#include <vector>

#include "server/http_request.h"

namespace http = boost::beast::http;
using esm::server::to_api_request;

TEST_CASE("an HTTP/1.1 message becomes a request with its raw target, decoded path and lower-case header names") {
  http::request<http::string_body> msg{http::verb::post, "/2015-03-31/functions/f%3A1/invocations?Qualifier=a+b", 11};
  msg.set("Host", "localhost:9070");
  msg.set("X-Amz-Target", "Kinesis_20131202.ListStreams");
  msg.insert("X-Dup", "1");
  msg.insert("x-dup", "2");
  msg.body() = "{\"k\":1}";
  const esm::api::Request req = to_api_request(std::move(msg));
  CHECK(req.method == "POST");
  CHECK(req.target == "/2015-03-31/functions/f%3A1/invocations?Qualifier=a+b");
  CHECK(req.path == "/2015-03-31/functions/f:1/invocations");
  REQUIRE(req.query_param("Qualifier"));
  CHECK(*req.query_param("Qualifier") == "a b");
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"host", "localhost:9070"}, {"x-amz-target", "Kinesis_20131202.ListStreams"}, {"x-dup", "1"}, {"x-dup", "2"}};
  CHECK(req.headers == headers);
  CHECK(req.body == "{\"k\":1}");
  CHECK(req.region.empty());
  CHECK(req.request_id.size() == 36);
}

TEST_CASE("a request from HTTP/2 pieces keeps its fields in order and is split like an HTTP/1.1 one") {
  const esm::api::Request req =
      to_api_request("GET", "/_esmd/a%20b?x=1&y=2", {{"host", "localhost:9070"}, {"origin", "http://a"}}, "");
  CHECK(req.method == "GET");
  CHECK(req.target == "/_esmd/a%20b?x=1&y=2");
  CHECK(req.path == "/_esmd/a b");
  CHECK(req.query_params("y") == std::vector<std::string>{"2"});
  CHECK(req.header("host") == "localhost:9070");
  CHECK(req.header("origin") == "http://a");
  CHECK(req.body.empty());
  CHECK(!req.request_id.empty());
}
