#pragma once
// HttpClient: an asynchronous HTTP/1.1 client (Boost.Beast) for http:// function targets,
// with a keep-alive connection pool per host:port.
//
// Each connection lives on its own strand. An idle pooled connection keeps a one-byte read
// pending, so a target that closes it (a restarted RIE, an idle timeout) is noticed when it
// happens and the connection leaves the pool, instead of failing the next invocation as a
// "connection dropped" function error. Taking a connection from the pool cancels that read
// and waits for the cancellation before the connection is used. Idle connections are closed
// after kIdleTimeout. A request that cannot be written on a reused connection is retried once
// on a new one (the target cannot have run the function without the whole event); nothing is
// retried once the request was sent.
//
// Thread safety: post() from any thread; `done` runs once, on the connection's strand (or on
// the calling thread's executor for failures before a connection exists), never inline.
// Lifetime: create with std::make_shared; pending operations keep the client alive.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pollers/classify.h"

namespace esm::pollers {

struct HttpUrl {
  std::string host;
  std::string port = "80";
  std::string target = "/";  // path and query
};
// http://HOST[:PORT][/PATH][?QUERY]; nullopt for anything else (https is not supported).
std::optional<HttpUrl> parse_http_url(std::string_view url);

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
};
using HttpResult = std::variant<HttpResponse, HttpFailure>;

class HttpClient : public std::enable_shared_from_this<HttpClient> {
 public:
  using Done = std::function<void(HttpResult)>;
  static constexpr std::chrono::seconds kIdleTimeout{60};
  static constexpr std::size_t kMaxIdlePerHost = 64;

  explicit HttpClient(boost::asio::io_context& ioc) : ioc_(ioc) {}

  // POSTs body to url. The deadline bounds connecting, sending and receiving together.
  // `body` must stay unchanged until done runs (the client keeps the pointer alive).
  void post(const HttpUrl& url, HttpHeaders headers, std::shared_ptr<const std::string> body,
            std::chrono::steady_clock::time_point deadline, Done done);

  std::size_t idle_connections() const;
  std::uint64_t connections_opened() const;

 private:
  struct Conn;
  class Exchange;

  // Hands a live idle connection for key to cb (on its strand), or nullptr: open a new one.
  void take(const std::string& key, std::function<void(std::shared_ptr<Conn>)> cb);
  // After a complete exchange, on c's strand: pool c, or close it if the pool is full.
  void give_back(const std::shared_ptr<Conn>& c);
  void watch(const std::shared_ptr<Conn>& c);
  void forget(const std::shared_ptr<Conn>& c);

  boost::asio::io_context& ioc_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::shared_ptr<Conn>>> idle_;  // by host:port
  std::uint64_t opened_ = 0;
};

}  // namespace esm::pollers
