#pragma once
// HttpServer: the Boost.Beast listener and its sessions. One session per connection, each on
// its own strand; a session only does I/O (do_read/on_read, send/on_write) and hands every
// complete request to the Handler, which answers once through its Reply (from any thread).
// A connection whose first bytes are HTTP/2's client preface (h2c with prior knowledge) goes on
// in an Http2Session (server/http2_session.h) with the same Handler.
// Limits: a request body of at most kBodyLimit, a read timeout that also bounds idle
// keep-alive connections.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/http.h"
#include "core/status.h"

namespace esm::server {

using Handler = std::function<void(api::Request, api::Reply)>;

// Opens, binds and listens on host:port (SO_REUSEADDR); `what` names the listener in the error
// ("" for HTTP, "Kafka "). For HttpServer and KafkaListener.
Status open_acceptor(boost::asio::ip::tcp::acceptor& acceptor, const std::string& host, int port,
                     const std::string& what);

// What a listener does when accept fails (out of file descriptors, most often): accepting again
// at once would spin and flood the log, so it waits (10 ms, doubling up to 1 s) while the open
// connections keep being served, and logs once per 10 s with the count of failures since.
// For HttpServer and KafkaListener; used on the acceptor's strand only.
class AcceptBackoff {
 public:
  // Logs (at most once per interval) and returns the wait before the next accept.
  std::chrono::milliseconds failed(const boost::system::error_code& ec, std::string_view listener);
  void succeeded() { delay_ = kFirst; }
  std::uint64_t failures() const { return failures_; }

 private:
  static constexpr std::chrono::milliseconds kFirst{10};
  static constexpr std::chrono::milliseconds kMax{1000};
  static constexpr std::chrono::seconds kLogInterval{10};
  std::chrono::milliseconds delay_ = kFirst;
  std::chrono::steady_clock::time_point last_log_{};
  std::uint64_t failures_ = 0;
  std::uint64_t unlogged_ = 0;
};

// Lambda's invoke payload limit is 6 MB; the headroom covers JSON framing of that payload.
inline constexpr std::size_t kBodyLimit = 6 * 1024 * 1024 + 512 * 1024;
// A Kinesis PutRecords carries up to 5 MiB of data, base64 on the wire (6.7 MiB), plus the
// JSON of up to 500 entries.
inline constexpr std::size_t kKinesisBodyLimit = 8 * 1024 * 1024;
// The body limit of a request by its X-Amz-Target (Kinesis' requests may carry more).
inline std::size_t body_limit_for(std::string_view x_amz_target) {
  return x_amz_target.starts_with("Kinesis_20131202.") ? kKinesisBodyLimit : kBodyLimit;
}
// The 413 for a body over `limit`, in Lambda's error shape (HTTP/1.1 and HTTP/2).
api::Response too_large_response(std::size_t limit);

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& ioc, Handler handler);
  // Binds and starts accepting. The bound port (useful with port 0) is port().
  Status listen(const std::string& host, int port);
  int port() const { return port_; }
  // Stops accepting; open connections carry on.
  void stop();
  // Waits until every request handed to the handler has been answered, or the deadline.
  // Called during shutdown, from a thread that is not an I/O thread.
  bool wait_idle(std::chrono::milliseconds deadline);

 private:
  void do_accept();

  boost::asio::io_context& ioc_;
  Handler handler_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;  // the wait after a failed accept (AcceptBackoff)
  AcceptBackoff backoff_;
  int port_ = 0;
  std::shared_ptr<std::atomic<int>> active_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace esm::server
