#pragma once
// Http2Session: HTTP/2 with prior knowledge (h2c) on esmd's HTTP port, for clients that speak
// it by default (the AWS SDK for JavaScript v3's Kinesis client). The HttpServer's session
// hands a connection over when its first bytes are the client preface; from then on this
// session owns the socket, on the same strand. nghttp2 does the framing, HPACK, flow control
// and the protocol checks (a connection error is answered with GOAWAY and the connection
// closed); this class only does I/O and turns each stream into an api::Request for the same
// Handler as HTTP/1.1, and the Reply into a response on that stream.
// Limits as for HTTP/1.1: a body of at most body_limit_for() a stream (413 otherwise),
// 100 concurrent streams, 64 KiB of header fields a stream, and a read timeout that also
// bounds an idle connection (streams waiting for their handler's answer keep it open).
// Threads: everything runs on the socket's strand; the Reply may be called from any thread.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api/http.h"
#include "server/http_server.h"

struct nghttp2_session;

namespace esm::server {

// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 3.4).
inline constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// The response's header fields as they go into HEADERS, ":status" first: names lower-cased
// (HTTP/2 requires it), later fields replacing earlier ones of the same name as on HTTP/1.1,
// the connection-specific fields HTTP/2 forbids left out, and a content-length except for
// 1xx, 204 and 304 (a HEAD answer carries the GET answer's).
std::vector<std::pair<std::string, std::string>> http2_response_fields(const api::Response& r,
                                                                       const std::string& request_id);

class Http2Session : public std::enable_shared_from_this<Http2Session> {
 public:
  // `handler` outlives the session (it is the HttpServer's); `active` counts requests handed to
  // the handler and not yet answered and written (HttpServer::wait_idle).
  Http2Session(boost::asio::ip::tcp::socket&& socket, const Handler& handler,
               std::shared_ptr<std::atomic<int>> active);
  ~Http2Session();
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;

  // Starts on the socket's strand with the bytes already read from the socket (the client
  // preface first).
  void run(std::string received);

 private:
  struct Stream {
    api::Request req;
    std::size_t header_bytes = 0;
    std::size_t limit = kKinesisBodyLimit;
    bool too_large = false;   // answered 413; the rest of the body is dropped
    std::uint64_t dropped = 0;
    std::size_t held = 0;     // body bytes counted in the connection's bodies_held_
    bool refused = false;     // reset: the connection held too much body; the rest is dropped
    bool dispatched = false;  // handed to the handler
    bool answered = false;    // a response is submitted
    std::string method, path, request_id;  // for the response and the log line
    std::string body_out;
    std::size_t sent = 0;
    std::chrono::steady_clock::time_point started;
  };

  void start(std::string received);
  void do_read();
  void on_read(const boost::system::error_code& ec, std::size_t n);
  // Feeds bytes to nghttp2; after a fatal error the session only says GOAWAY.
  void receive(const std::uint8_t* data, std::size_t n);
  void do_write();
  void on_write(const boost::system::error_code& ec, int done);
  void arm_timer(std::chrono::steady_clock::duration after);
  void on_timer();
  void close();

  void on_headers_done(std::int32_t id, Stream& s);
  void on_request_done(std::int32_t id, Stream& s);
  void refuse_too_large(std::int32_t id, Stream& s);
  void release_body(Stream& s);
  void on_reply(std::int32_t id, api::Response r);
  void submit(std::int32_t id, Stream& s, api::Response r);
  Stream* stream(std::int32_t id);

  // nghttp2's callbacks (user_data is the session), defined in the .cc.
  struct Callbacks;
  friend struct Callbacks;

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  const Handler& handler_;
  std::shared_ptr<std::atomic<int>> active_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<std::int32_t, std::unique_ptr<Stream>> streams_;
  std::array<std::uint8_t, 64 * 1024> read_buf_{};
  std::string out_;  // the bytes being written
  bool writing_ = false;
  bool closed_ = false;
  // Answered streams that nghttp2 closed (their last frame is serialized) but whose bytes are
  // not yet written: they leave `active` when the write that carries them completes.
  int done_unwritten_ = 0;
  // Request body bytes the connection holds: received, or with their handler, until the stream
  // closes. Bounded by kConnectionBodyLimit across the connection's streams.
  std::size_t bodies_held_ = 0;
  std::chrono::steady_clock::time_point last_activity_;  // the last read or write
  std::chrono::steady_clock::time_point write_started_;
};

}  // namespace esm::server
