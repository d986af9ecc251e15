// HTTP request framing: what server/http_server.cc's Session does with the bytes of a
// connection, without the socket. Beast's request_parser with the session's limits (header
// 64 KiB; body kKinesisBodyLimit until the header names the service, then that service's limit,
// a larger Content-Length refused at once), the body parsed eagerly, keep-alive requests one
// after the other from the same bytes; then each request as App::dispatch sees it: made by
// server/http_request.h as the session makes it (the target split and percent-decoded), the
// region from the SigV4 header, the RequestGuard's Host and Origin checks and the routers'
// matches().
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/admin_api.h"
#include "api/http.h"
#include "api/kinesis/kinesis_api.h"
#include "api/lambda_api.h"
#include "api/request_guard.h"
#include "api/sqs/sqs_api.h"
#include "server/http_request.h"
#include "server/http_server.h"

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

std::size_t limit_for(const http::fields& header) {
  const auto target = header.find("X-Amz-Target");
  return target != header.end() && target->value().starts_with("Kinesis_20131202.") ? esm::server::kKinesisBodyLimit
                                                                                    : esm::server::kBodyLimit;
}

void dispatch(esm::api::Request& req) {
  static const esm::api::RequestGuard loopback({true, {"esmd.test"}, {"http://localhost:3000"}});
  static const esm::api::RequestGuard open({false, {}, {"*"}});
  (void)loopback.check(req);
  if (auto preflight = open.check(req); !preflight && open.is_cross_origin(req)) {
    esm::api::Response r;
    esm::api::RequestGuard::decorate(req.header("origin"), r);
  }
  req.region = esm::api::region_from_authorization(req.header("authorization"));
  (void)esm::api::SqsApi::matches(req);
  (void)esm::api::KinesisApi::matches(req);
  (void)esm::api::AdminApi::matches(req);
  (void)esm::api::LambdaApi::matches(req);
  (void)req.query_params("Action");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // One connection: requests until the bytes run out, an error, or no keep-alive.
  for (int requests = 0; requests < 16 && !in.empty(); ++requests) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(esm::server::kKinesisBodyLimit);
    parser.header_limit(64 * 1024);
    beast::error_code ec;
    // async_read_header: the header only (the parser is not eager yet).
    in.remove_prefix(parser.put(boost::asio::buffer(in.data(), in.size()), ec));
    if (ec || !parser.is_header_done()) return 0;  // need_more: the peer closed mid-header
    const std::size_t limit = limit_for(parser.get());
    if (const auto length = parser.content_length(); length && *length > limit) return 0;  // 413
    parser.body_limit(limit);
    if (!parser.is_done() && !in.empty()) {
      parser.eager(true);
      in.remove_prefix(parser.put(boost::asio::buffer(in.data(), in.size()), ec));
      if (ec && ec != http::error::need_more) return 0;  // 400 or 413
    }
    if (!parser.is_done()) {
      parser.put_eof(ec);  // the connection closed: a body delimited by it ends here
      if (ec || !parser.is_done()) return 0;
    }
    http::request<http::string_body> msg = parser.release();
    const bool keep_alive = msg.keep_alive();
    esm::api::Request req = esm::server::to_api_request(std::move(msg));
    dispatch(req);
    if (!keep_alive) return 0;
  }
  return 0;
}
