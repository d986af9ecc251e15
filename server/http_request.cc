#include "server/http_request.h"

#include <iterator>

#include "core/uuid.h"

namespace esm::server {

api::Request to_api_request(std::string method, std::string target,
                            std::vector<std::pair<std::string, std::string>> headers, std::string body) {
  api::Request req;
  req.method = std::move(method);
  req.target = std::move(target);
  req.headers = std::move(headers);
  for (auto& field : req.headers)
    for (auto& ch : field.first)
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');  // ASCII, as header names are
  req.body = std::move(body);
  req.request_id = new_uuid();
  api::split_target(req);
  return req;
}

api::Request to_api_request(boost::beast::http::request<boost::beast::http::string_body>&& msg) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(static_cast<std::size_t>(std::distance(msg.begin(), msg.end())));
  for (const auto& f : msg) headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  return to_api_request(std::string(msg.method_string()), std::string(msg.target()), std::move(headers),
                        std::move(msg.body()));
}

}  // namespace esm::server
