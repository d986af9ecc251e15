#pragma once
// Protocol-neutral HTTP request/response used by every handler. server/ converts to and from
// Boost.Beast; handlers stay plain functions that tests can call directly.

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace esm::api {

struct Request {
  std::string method;
  std::string target;  // raw request-target, with the query string
  std::string path;    // percent-decoded path
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string region;      // from the SigV4 credential scope, else the server default
  std::string request_id;  // generated per request, echoed as x-amzn-RequestId

  std::string_view header(std::string_view lower_name) const;
  // First value of a query parameter, and whether it was present at all.
  const std::string* query_param(std::string_view name) const;
  std::vector<std::string> query_params(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Handlers answer exactly once, possibly later and from another thread.
using Reply = std::function<void(Response)>;

// Parses the target into path and query, percent-decoding both.
void split_target(Request& r);
std::string percent_decode(std::string_view s, bool plus_is_space);
// The region of an `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/...`.
std::string region_from_authorization(std::string_view authorization);

}  // namespace esm::api
