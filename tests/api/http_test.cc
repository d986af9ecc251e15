#include <catch2/catch.hpp>

#include "api/http.h"

using namespace esm::api;

TEST_CASE("the request target splits into a decoded path and ordered query parameters") {
  Request r;
  r.target = "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Aevent-source-mapping%3Au"
             "?tagKeys=a&tagKeys=b%20c&x=1+2&flag";
  split_target(r);
  CHECK(r.path == "/2017-03-31/tags/arn:aws:lambda:us-east-1:123456789012:event-source-mapping:u");
  CHECK(r.query_params("tagKeys") == std::vector<std::string>{"a", "b c"});
  REQUIRE(r.query_param("x"));
  CHECK(*r.query_param("x") == "1 2");
  REQUIRE(r.query_param("flag"));
  CHECK(r.query_param("flag")->empty());
  CHECK_FALSE(r.query_param("missing"));
}

TEST_CASE("a plus sign in the path is kept; in the query it is a space") {
  Request r;
  r.target = "/a+b?k=a+b";
  split_target(r);
  CHECK(r.path == "/a+b");
  CHECK(*r.query_param("k") == "a b");
}

TEST_CASE("malformed percent escapes are kept as they are") {
  CHECK(percent_decode("100%", false) == "100%");
  CHECK(percent_decode("%zz", false) == "%zz");
  CHECK(percent_decode("%4", false) == "%4");
  CHECK(percent_decode("%41%42", false) == "AB");
}

TEST_CASE("header lookup uses the lower-cased name") {
  Request r;
  r.headers = {{"content-type", "application/json"}, {"authorization", "x"}};
  CHECK(r.header("content-type") == "application/json");
  CHECK(r.header("missing").empty());
}

TEST_CASE("the region comes from the SigV4 credential scope") {
  CHECK(region_from_authorization("AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/lambda/aws4_request, "
                                  "SignedHeaders=host;x-amz-date, Signature=abc") == "eu-west-1");
  CHECK(region_from_authorization("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-gov-west-1/lambda/aws4_request") ==
        "us-gov-west-1");
  CHECK(region_from_authorization("").empty());
  CHECK(region_from_authorization("Bearer token").empty());
  CHECK(region_from_authorization("AWS4-HMAC-SHA256 Credential=AKID/20240101").empty());
}
