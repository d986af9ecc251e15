#pragma once
// KafkaListener: the TCP listener of esmd's Kafka broker and its connections. A connection
// reads size-prefixed frames and hands each to the Handler (api/kafka/kafka_api.h); it writes
// the answers back in the order the requests came, whatever order they complete in (clients
// pipeline, and a long-polling Fetch holds the answers behind it), and skips requests that
// get no answer (acks=0 Produce). A frame above kMaxKafkaFrame, or one the front-end cannot
// parse, closes the connection.
//
// Threading: every connection on its own strand; the Handler's Respond may be called from any
// thread and is posted to that strand.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "api/kafka/kafka_api.h"
#include "core/status.h"
#include "server/http_server.h"

namespace esm::server {

// Kafka's socket.request.max.bytes.
inline constexpr std::int32_t kMaxKafkaFrame = 100 * 1024 * 1024;
// Requests a connection may have in progress before it stops reading more (clients pipeline
// at most a handful: Java 5, librdkafka 1,000,000 by default but only as memory allows).
inline constexpr std::size_t kMaxKafkaInFlight = 64;
// Kafka's connections.max.idle.ms: a connection with nothing in progress that sends nothing
// for this long is closed.
inline constexpr int kKafkaIdleMs = 600000;

using KafkaHandler =
    std::function<void(std::shared_ptr<const std::string> frame, std::string client_host, api::KafkaRespond)>;

class KafkaListener {
 public:
  KafkaListener(boost::asio::io_context& ioc, KafkaHandler handler);
  ~KafkaListener();
  // Binds and starts accepting. The bound port (useful with port 0) is port().
  Status listen(const std::string& host, int port);
  int port() const { return port_; }
  // Stops accepting; open connections end with the io_context.
  void stop();

 private:
  class Connection;
  void do_accept();

  boost::asio::io_context& ioc_;
  KafkaHandler handler_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;
  AcceptBackoff backoff_;
  int port_ = 0;
};

}  // namespace esm::server
