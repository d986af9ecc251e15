#pragma once
// RequestGuard: what a browser may do with esmd's HTTP port (issue 13). Every request passes
// through it before routing:
// - Host: when esmd listens on a loopback address, a request must name a loopback host
//   (localhost, *.localhost, 127.0.0.0/8, [::1]) or one of --allowed-hosts. A web page that
//   rebinds its own DNS name to 127.0.0.1 sends its own name and is refused (DNS rebinding).
// - Origin: a request that carries one (only browsers send it) is refused unless the origin is
//   in --cors-origins ("*": any). An allowed origin's preflight (OPTIONS with
//   Access-Control-Request-Method) is answered here and its other answers carry the CORS
//   headers the AWS SDK for JavaScript in a browser needs.
// Refusals are 403 AccessDeniedException in Lambda's REST-JSON shape.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http.h"

namespace esm::api {

struct GuardOptions {
  bool check_host = false;                 // the listener is on a loopback address
  std::vector<std::string> allowed_hosts;  // more Host names accepted (lower case, no port)
  std::vector<std::string> cors_origins;   // allowed Origins, exactly as browsers send them; "*" any
};

class RequestGuard {
 public:
  explicit RequestGuard(GuardOptions options) : options_(std::move(options)) {}

  // nullopt: route the request; otherwise the answer to send instead (a refusal, or the
  // preflight's answer).
  std::optional<Response> check(const Request& req) const;
  // True when the request's answer must carry CORS headers (decorate).
  bool is_cross_origin(const Request& req) const { return !req.header("origin").empty(); }
  // The CORS headers of an allowed cross-origin request's answer (origin: its Origin header).
  static void decorate(std::string_view origin, Response& r);

  // Whether a Host header value (with or without :port) names a loopback host.
  static bool is_loopback_host(std::string_view host);
  // Whether an address to listen on is a loopback address (127.0.0.0/8, ::1, localhost).
  static bool is_loopback_address(std::string_view address);

 private:
  bool origin_allowed(std::string_view origin) const;
  bool host_allowed(std::string_view host) const;

  GuardOptions options_;
};

}  // namespace esm::api
