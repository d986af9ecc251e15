#pragma once
// FakeFunctionServer: a blocking HTTP/1.1 server on 127.0.0.1 (one thread per connection) that
// stands in for a Lambda Invoke endpoint or an RIE in tests. The handler answers each request;
// returning nullopt closes the connection without an answer (a crashed runtime). It records
// every request, the number of connections, and the most requests it ever had open at once.

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace esm::testing {

class FakeFunctionServer {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;
  using Handler = std::function<std::optional<Response>(const Request&)>;

  struct Seen {
    std::string target;
    std::string body;
    std::map<std::string, std::string> headers;  // names lower-cased
  };

  explicit FakeFunctionServer(Handler handler)
      : handler_(std::move(handler)), acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }

  ~FakeFunctionServer() { stop(); }

  void stop() {
    if (stopping_.exchange(true)) return;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard lk(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

  int port() const { return port_; }
  std::string url(const std::string& path = "/2015-03-31/functions/function/invocations") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  std::vector<Seen> requests() const {
    std::lock_guard lk(mu_);
    return seen_;
  }
  int connections() const { return connections_.load(); }
  int max_in_flight() const { return max_in_flight_.load(); }
  int in_flight() const { return in_flight_.load(); }

  // A canned response.
  static Response reply(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
    Response r{static_cast<boost::beast::http::status>(status), 11};
    r.set(boost::beast::http::field::content_type, "application/json");
    for (auto& [k, v] : headers) r.set(k, v);
    r.body() = std::move(body);
    r.keep_alive(true);
    return r;
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket s(ioc_);
      acceptor_.accept(s, ec);
      if (ec || stopping_) return;
      ++connections_;
      std::lock_guard lk(mu_);
      open_fds_.push_back(s.native_handle());
      threads_.emplace_back([this, sock = std::move(s)]() mutable { serve(std::move(sock)); });
    }
  }

  void serve(boost::asio::ip::tcp::socket s) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buf;
    for (;;) {
      Request req;
      boost::system::error_code ec;
      http::read(s, buf, req, ec);
      if (ec) break;
      {
        std::lock_guard lk(mu_);
        Seen seen{std::string(req.target()), req.body(), {}};
        for (const auto& f : req) {
          std::string name(f.name_string());
          std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
          seen.headers[name] = std::string(f.value());
        }
        seen_.push_back(std::move(seen));
      }
      const int now = ++in_flight_;
      int prev = max_in_flight_.load();
      while (now > prev && !max_in_flight_.compare_exchange_weak(prev, now)) {
      }
      std::optional<Response> res = handler_(req);
      // Before the write: the client cannot send its next request before it has the answer.
      --in_flight_;
      if (!res) break;
      res->prepare_payload();
      const bool keep = res->keep_alive();
      http::write(s, *res, ec);
      if (ec || !keep) break;
    }
    boost::system::error_code ignored;
    s.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    std::lock_guard lk(mu_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), s.native_handle()), open_fds_.end());
    s.close(ignored);
  }

  Handler handler_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  mutable std::mutex mu_;
  std::vector<std::thread> threads_;
  std::vector<int> open_fds_;
  std::vector<Seen> seen_;
  std::atomic<int> connections_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
};

}  // namespace esm::testing
