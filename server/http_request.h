#pragma once
// The api::Request a Handler sees, made one way from an HTTP/1.1 message (HttpServer's
// session, from Beast's parser) and from an HTTP/2 stream (Http2Session, from nghttp2's
// fields), so that routes, the RequestGuard and the handlers cannot tell the two apart.
// Its own library (esmd_http_request): the http_request fuzz harness makes requests with it
// without linking the server.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>
#include <utility>
#include <vector>

#include "api/http.h"

namespace esm::server {

// From the pieces of a request as received: the method, the raw request-target (kept in
// `target`, and split into the percent-decoded path and query), the header fields in order
// with their names lower-cased (HTTP/2 sends them so; its :authority is passed as "host", RFC
// 9113 8.3.1) and the body; with a new request id.
api::Request to_api_request(std::string method, std::string target,
                            std::vector<std::pair<std::string, std::string>> headers, std::string body);
// The same from an HTTP/1.1 message; its body is moved out.
api::Request to_api_request(boost::beast::http::request<boost::beast::http::string_body>&& msg);

}  // namespace esm::server
