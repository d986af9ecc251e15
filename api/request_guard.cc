#include "api/request_guard.h"

#include <algorithm>
#include <cctype>

#include "api/errors.h"

namespace esm::api {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "name:port" -> "name", "[v6]:port" -> "[v6]", a trailing dot dropped, lower case.
std::string host_name(std::string_view host) {
  std::string_view name = host;
  if (name.starts_with('[')) {
    if (auto close = name.find(']'); close != std::string_view::npos) name = name.substr(0, close + 1);
  } else if (auto colon = name.find(':'); colon != std::string_view::npos && name.find(':', colon + 1) == std::string_view::npos) {
    name = name.substr(0, colon);
  }
  if (name.ends_with('.')) name.remove_suffix(1);
  return lower(name);
}

// Four decimal octets, the first 127.
bool is_ipv4_loopback(std::string_view s) {
  int octets = 0;
  int first = -1;
  while (!s.empty()) {
    std::size_t n = 0;
    int v = 0;
    while (n < s.size() && n < 4 && std::isdigit(static_cast<unsigned char>(s[n]))) v = v * 10 + (s[n++] - '0');
    if (n == 0 || n > 3 || v > 255) return false;
    if (first < 0) first = v;
    ++octets;
    s.remove_prefix(n);
    if (s.empty()) break;
    if (s.front() != '.' || octets == 4) return false;
    s.remove_prefix(1);
    if (s.empty()) return false;
  }
  return octets == 4 && first == 127;
}

std::string clip(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out;
}

}  // namespace

bool RequestGuard::is_loopback_host(std::string_view host) {
  const std::string name = host_name(host);
  return name == "localhost" || name.ends_with(".localhost") || name == "[::1]" || is_ipv4_loopback(name);
}

bool RequestGuard::is_loopback_address(std::string_view address) {
  const std::string a = lower(address);
  return a == "localhost" || a == "::1" || is_ipv4_loopback(a);
}

bool RequestGuard::host_allowed(std::string_view host) const {
  // HTTP/1.0 clients may send none; browsers always do.
  if (host.empty() || is_loopback_host(host)) return true;
  const std::string name = host_name(host);
  return std::find(options_.allowed_hosts.begin(), options_.allowed_hosts.end(), name) != options_.allowed_hosts.end();
}

bool RequestGuard::origin_allowed(std::string_view origin) const {
  for (const auto& o : options_.cors_origins)
    if (o == "*" || o == origin) return true;
  return false;
}

std::optional<Response> RequestGuard::check(const Request& req) const {
  if (options_.check_host && !host_allowed(req.header("host")))
    return lambda_access_denied(
        "Host '" + clip(req.header("host")) +
        "' refused: esmd listens on a loopback address and answers only requests for a loopback host "
        "(add other names with --allowed-hosts)");
  const std::string_view origin = req.header("origin");
  if (origin.empty()) return std::nullopt;
  if (!origin_allowed(origin))
    return lambda_access_denied("Cross-origin request from '" + clip(origin) +
                                "' refused: esmd answers browsers only from origins named in --cors-origins");
  if (req.method == "OPTIONS" && !req.header("access-control-request-method").empty()) {
    Response r;
    r.status = 200;
    r.content_type.clear();
    decorate(origin, r);
    r.headers.emplace_back("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    const std::string_view asked = req.header("access-control-request-headers");
    r.headers.emplace_back("Access-Control-Allow-Headers",
                           asked.empty() ? std::string("authorization, content-type, x-amz-date, x-amz-target, "
                                                       "x-amz-user-agent, x-amz-security-token, "
                                                       "x-amz-content-sha256, amz-sdk-invocation-id, amz-sdk-request")
                                         : std::string(asked));
    r.headers.emplace_back("Access-Control-Max-Age", "600");
    return r;
  }
  return std::nullopt;
}

void RequestGuard::decorate(std::string_view origin, Response& r) {
  r.headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
  r.headers.emplace_back("Vary", "Origin");
  r.headers.emplace_back("Access-Control-Expose-Headers",
                         "x-amzn-RequestId, x-amzn-ErrorType, x-amzn-query-error, x-amz-request-id, Date, ETag");
}

}  // namespace esm::api
