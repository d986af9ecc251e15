#include "server/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <array>
#include <atomic>
#include <thread>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/errors.h"
#include "core/uuid.h"
#include "server/http2_session.h"
#include "server/http_request.h"

namespace esm::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Long enough for an idle keep-alive client between requests; a stalled sender is cut off.
constexpr auto kReadTimeout = std::chrono::seconds(75);
constexpr auto kWriteTimeout = std::chrono::seconds(30);
// An oversized body up to this size is read and dropped so that the client sees the 413.
constexpr std::uint64_t kDrainLimit = 64ull * 1024 * 1024;
// The client preface's first line and the empty line after it: Beast reads a header up to there.
constexpr std::string_view kPrefaceStart = kHttp2Preface.substr(0, 18);

// The response as it goes on the wire, written in one piece: Beast's serializer walks a
// buffer sequence of every header field and took a fifth of a small request's instructions.
// Framing as Beast's prepare_payload() and keep_alive() do it: no Content-Length (and no body)
// for 1xx, 204 and 304; "Connection: close" when HTTP/1.1 is not kept alive and
// "Connection: keep-alive" when HTTP/1.0 is. A HEAD answer carries the GET answer's
// Content-Length and no body.
void serialize(std::string& out, const api::Response& r, const std::string& request_id, unsigned version,
               bool keep_alive, bool head) {
  // Later fields replace earlier ones of the same name, as http::fields::set does.
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  fields.reserve(4 + r.headers.size());
  auto set = [&fields](std::string_view name, std::string_view value) {
    for (auto& f : fields)
      if (beast::iequals(beast::string_view(f.first.data(), f.first.size()), beast::string_view(name.data(), name.size()))) {
        f.second = value;
        return;
      }
    fields.emplace_back(name, value);
  };
  set("Server", "esmd");
  if (!r.content_type.empty()) set("Content-Type", r.content_type);
  set("x-amzn-RequestId", request_id);
  for (const auto& [k, v] : r.headers) set(k, v);

  const unsigned status = static_cast<unsigned>(r.status);
  const bool bodiless_status = (status >= 100 && status < 200) || status == 204 || status == 304;
  out.clear();
  out.reserve(160 + r.body.size() + 64 * fields.size());
  out.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  out.append(std::to_string(status)).push_back(' ');
  const auto reason = http::obsolete_reason(http::int_to_status(status));
  out.append(reason.data(), reason.size()).append("\r\n");
  for (const auto& [k, v] : fields) out.append(k).append(": ").append(v).append("\r\n");
  if (!bodiless_status) out.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n");
  if (version >= 11 && !keep_alive) out.append("Connection: close\r\n");
  if (version < 11 && keep_alive) out.append("Connection: keep-alive\r\n");
  out.append("\r\n");
  if (!bodiless_status && !head) out.append(r.body);
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, const Handler& handler, std::shared_ptr<std::atomic<int>> active)
      : stream_(std::move(socket)), handler_(handler), active_(std::move(active)) {}

  void run() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::do_first_read, shared_from_this()));
  }

 private:
  void do_first_read() { read_header(&Session::on_first_header); }
  void do_read() { read_header(&Session::on_header); }

  void read_header(void (Session::*on_done)(beast::error_code, std::size_t)) {
    parser_.emplace();
    // The largest limit of any service (Kinesis') until the header says which service the
    // request is for: then on_header lowers it, and refuses at once a Content-Length over it (a
    // client may wait for that answer before it sends the body).
    parser_->body_limit(kKinesisBodyLimit);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(kReadTimeout);
    http::async_read_header(stream_, buffer_, *parser_, beast::bind_front_handler(on_done, shared_from_this()));
  }

  // HTTP/2's client preface starts as a request line "PRI * HTTP/2.0", a version Beast's
  // parser refuses without consuming anything: when the first header of a connection fails so
  // and the bytes Beast has read start with the preface, the connection is h2c with prior
  // knowledge and an Http2Session takes the socket with those bytes. No extra read; an HTTP/1.1
  // connection pays one test of `ec` on its first request.
  void on_first_header(beast::error_code ec, std::size_t n) {
    if (ec && buffer_.size() >= kPrefaceStart.size() &&
        std::string_view(static_cast<const char*>(buffer_.data().data()), kPrefaceStart.size()) == kPrefaceStart)
      return upgrade_to_http2();
    on_header(ec, n);
  }

  void upgrade_to_http2() {
    std::string received(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    buffer_.consume(buffer_.size());
    stream_.expires_never();
    auto h2 = std::make_shared<Http2Session>(stream_.release_socket(), handler_, active_);
    h2->run(std::move(received));
  }

  void on_header(beast::error_code ec, std::size_t n) {
    if (ec) return on_read(ec, n);
    const std::size_t limit = limit_for(parser_->get());
    if (const auto length = parser_->content_length(); length && *length > limit)
      return on_read(http::error::body_limit, n);
    parser_->body_limit(limit);
    // The body usually came with the header: parse what is buffered here, which spares most
    // requests a second pass through the executor; read on only for what has not arrived.
    if (!parser_->is_done() && buffer_.size() > 0) {
      parser_->eager(true);
      beast::error_code pec;
      buffer_.consume(parser_->put(buffer_.data(), pec));
      if (pec && pec != http::error::need_more) return on_read(pec, n);
    }
    if (parser_->is_done()) return on_read({}, n);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted || ec == beast::error::timeout ||
        ec == net::error::connection_reset || ec == net::error::eof) {
      return close();
    }
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      // Answer at once (a client may wait for it before sending the body), then read and drop
      // the rest of the body before closing: a client that sends it all first would otherwise
      // see a connection reset instead of the 413.
      const auto length = parser_->content_length();
      if (length && *length <= kDrainLimit) {
        drain_remaining_ = *length > buffer_.size() ? *length - buffer_.size() : 0;
        buffer_.consume(buffer_.size());
      }
      return send_too_large(limit_for(parser_->get()));
    }
    if (ec) {
      spdlog::debug("http: bad request: {}", ec.message());
      api::Response r = api::lambda_error({Code::kInvalidParameter, "Malformed HTTP request: " + ec.message()});
      r.status = 400;
      keep_alive_ = false;
      return send_unlogged(std::move(r));
    }
    http::request<http::string_body> msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    head_ = msg.method() == http::verb::head;
    api::Request req = to_api_request(std::move(msg));
    started_ = std::chrono::steady_clock::now();
    // One request at a time on an HTTP/1 connection: the next is read after this answer is
    // written, so the session keeps the request's id (and method and path, for the log).
    // Assigning reuses the strings' buffers and the reply captures only the session, small
    // enough for std::function to hold without allocating.
    request_id_ = req.request_id;
    method_ = req.method;
    path_ = req.path;
    stream_.expires_never();
    auto self = shared_from_this();
    auto reply = [self = std::move(self)](api::Response resp) {
      net::post(self->stream_.get_executor(), [self, resp = std::move(resp)]() mutable { self->send(std::move(resp)); });
    };
    dispatched_ = true;
    ++*active_;
    try {
      handler_(std::move(req), std::move(reply));
    } catch (const std::exception& e) {
      spdlog::error("handler threw: {}", e.what());
      send(api::lambda_error(internal_error(e.what())));
    }
  }

  void do_drain() {
    if (drain_remaining_ == 0) return close();
    stream_.expires_after(kReadTimeout);
    if (!drain_buf_) drain_buf_ = std::make_unique<char[]>(kDrainChunk);
    const std::size_t n = std::min<std::uint64_t>(drain_remaining_, kDrainChunk);
    stream_.async_read_some(net::buffer(drain_buf_.get(), n),
                            [self = shared_from_this()](beast::error_code ec, std::size_t got) {
                              if (ec) return self->close();
                              self->drain_remaining_ -= std::min<std::uint64_t>(got, self->drain_remaining_);
                              self->do_drain();
                            });
  }

  void send_too_large(std::size_t limit) { send_unlogged(too_large_response(limit)); }

  // An answer that esmd gives before any handler saw the request: a new id, no log line.
  void send_unlogged(api::Response r) {
    request_id_ = new_uuid();
    method_.clear();
    path_.clear();
    send(std::move(r));
  }

  static std::size_t limit_for(const http::fields& header) {
    const auto target = header.find("X-Amz-Target");
    if (target == header.end()) return body_limit_for({});
    return body_limit_for(std::string_view(target->value().data(), target->value().size()));
  }

  void send(api::Response r) {
    if (spdlog::should_log(spdlog::level::debug) && !method_.empty()) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started_);
      spdlog::debug("{} {} -> {} ({} us)", method_, path_, r.status, us.count());
    }
    // The session outlives the write (the handler holds it), and so does out_, whose buffer the
    // next answer reuses.
    serialize(out_, r, request_id_, version_, keep_alive_, head_);
    stream_.expires_after(kWriteTimeout);
    net::async_write(stream_, net::buffer(out_), beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (out_.capacity() > kKeptAnswer) std::string().swap(out_);  // a large answer's buffer is not kept
    if (dispatched_) {
      dispatched_ = false;
      --*active_;
    }
    if (!ec && drain_remaining_ > 0) return do_drain();
    if (ec || !keep_alive_) return close();
    do_read();
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  const Handler& handler_;
  std::shared_ptr<std::atomic<int>> active_;  // requests handed to the handler and not yet answered
  bool dispatched_ = false;
  bool head_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string out_;  // the answer being written
  static constexpr std::size_t kKeptAnswer = 4 * 1024;
  std::uint64_t drain_remaining_ = 0;
  // Only a session that drains an oversized body has one: a 64 KiB array in every session
  // cost 64 MiB of RSS with 1,000 keep-alive connections open (bench/connections.py).
  static constexpr std::size_t kDrainChunk = 64 * 1024;
  std::unique_ptr<char[]> drain_buf_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  std::chrono::steady_clock::time_point started_;
  std::string request_id_, method_, path_;  // of the request being answered
};

}  // namespace

api::Response too_large_response(std::size_t limit) {
  return api::lambda_error(
      {Code::kTooLarge, "Request must be smaller than " + std::to_string(limit) + " bytes for the operation"});
}

std::chrono::milliseconds AcceptBackoff::failed(const boost::system::error_code& ec, std::string_view listener) {
  ++failures_;
  ++unlogged_;
  const auto now = std::chrono::steady_clock::now();
  if (last_log_ == std::chrono::steady_clock::time_point{} || now - last_log_ >= kLogInterval) {
    spdlog::warn("{}accept: {} ({} time{} since the last report); new connections wait, open ones are served",
                 listener, ec.message(), unlogged_, unlogged_ == 1 ? "" : "s");
    last_log_ = now;
    unlogged_ = 0;
  }
  const auto wait = delay_;
  delay_ = std::min(delay_ * 2, kMax);
  return wait;
}

HttpServer::HttpServer(net::io_context& ioc, Handler handler)
    : ioc_(ioc), handler_(std::move(handler)), acceptor_(net::make_strand(ioc)), retry_(acceptor_.get_executor()) {}

Status open_acceptor(tcp::acceptor& acceptor, const std::string& host, int port, const std::string& what) {
  beast::error_code ec;
  auto addr = net::ip::make_address(host, ec);
  if (ec) return invalid_parameter("invalid --host '" + host + "': " + ec.message());
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return internal_error("cannot listen " + (what.empty() ? "" : "for " + what) + "on " + host + ":" +
                          std::to_string(port) + ": " + ec.message());
  return Status::ok();
}

Status HttpServer::listen(const std::string& host, int port) {
  if (Status s = open_acceptor(acceptor_, host, port, ""); !s.is_ok()) return s;
  port_ = acceptor_.local_endpoint().port();
  do_accept();
  return Status::ok();
}

bool HttpServer::wait_idle(std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (active_->load() > 0) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void HttpServer::stop() {
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
    retry_.cancel();
  });
}

void HttpServer::do_accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      retry_.expires_after(backoff_.failed(ec, ""));
      retry_.async_wait([this](beast::error_code e) {
        if (!e && acceptor_.is_open()) do_accept();
      });
      return;
    }
    backoff_.succeeded();
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::make_shared<Session>(std::move(socket), handler_, active_)->run();
    do_accept();
  });
}

}  // namespace esm::server
