#include "pollers/http_client.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/http/span_body.hpp>
#include <algorithm>

namespace esm::pollers {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::uint32_t kHeaderLimit = 64 * 1024;

void close_stream(beast::tcp_stream& s) {
  beast::error_code ec;
  s.socket().shutdown(tcp::socket::shutdown_both, ec);
  s.close();
}

}  // namespace

std::optional<HttpUrl> parse_http_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  url.remove_prefix(kScheme.size());
  const auto slash = url.find_first_of("/?");
  std::string_view authority = url.substr(0, slash);
  HttpUrl out;
  if (slash != std::string_view::npos) {
    out.target = std::string(url.substr(slash));
    if (out.target.front() == '?') out.target.insert(0, "/");
  }
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  if (authority.front() == '[') {  // [v6]:port
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty()) {
      if (authority.front() != ':') return std::nullopt;
      out.port = std::string(authority.substr(1));
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) out.port = std::string(authority.substr(colon + 1));
  }
  if (out.host.empty() || out.port.empty() || out.port.size() > 5 ||
      !std::all_of(out.port.begin(), out.port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return out;
}

// One pooled TCP connection. Every member below `key` is touched only on the stream's strand.
struct HttpClient::Conn {
  Conn(net::io_context& ioc, std::string k) : stream(net::make_strand(ioc)), key(std::move(k)) {}

  beast::tcp_stream stream;
  beast::flat_buffer buffer;  // must be empty whenever the connection is idle
  const std::string key;      // host:port
  char probe = 0;
  bool dead = false;                      // the idle probe saw a close, an error or stray bytes
  std::function<void(bool alive)> claim;  // set by take() while the probe read is pending
};

// One request/response on one connection:
//
//   start -> [take: pooled conn] -> do_write
//         -> [no conn] -> do_resolve -> on_resolve -> on_connect -> do_write
//   do_write -> on_write -> on_header -> on_read -> finish (conn back to the pool if keep-alive)
//   on_write(error), or the peer's close before any answer, on a reused conn -> do_resolve (once)
class HttpClient::Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<HttpClient> client, const HttpUrl& url, HttpHeaders headers,
           std::shared_ptr<const std::string> body, std::chrono::steady_clock::time_point deadline, Done done)
      : client_(std::move(client)),
        url_(url),
        key_(url.host + ":" + url.port),
        headers_(std::move(headers)),
        body_(std::move(body)),
        deadline_(deadline),
        done_(std::move(done)) {}

  void start() {
    client_->take(key_, [self = shared_from_this()](std::shared_ptr<Conn> c) {
      if (!c) return self->do_resolve();
      self->conn_ = std::move(c);
      self->reused_ = true;
      self->do_write();
    });
  }

 private:
  void do_resolve() {
    reused_ = false;
    conn_ = std::make_shared<Conn>(client_->ioc_, key_);
    resolver_.emplace(conn_->stream.get_executor());
    resolver_->async_resolve(url_.host, url_.port, beast::bind_front_handler(&Exchange::on_resolve, shared_from_this()));
  }

  void on_resolve(beast::error_code ec, const tcp::resolver::results_type& results) {
    if (ec) return fail(HttpStage::kConnect, ec);
    conn_->stream.expires_at(deadline_);
    conn_->stream.async_connect(results, beast::bind_front_handler(&Exchange::on_connect, shared_from_this()));
  }

  void on_connect(beast::error_code ec, const tcp::endpoint&) {
    if (ec) return fail(HttpStage::kConnect, ec);
    beast::error_code ignored;
    conn_->stream.socket().set_option(tcp::no_delay(true), ignored);
    {
      std::lock_guard lk(client_->mu_);
      ++client_->opened_;
    }
    do_write();
  }

  void do_write() {
    req_.emplace(http::verb::post, url_.target, 11);
    const std::string host = url_.host.find(':') == std::string::npos ? url_.host : "[" + url_.host + "]";
    req_->set(http::field::host, url_.port == "80" ? host : host + ":" + url_.port);
    req_->set(http::field::user_agent, "esmd");
    for (const auto& [k, v] : headers_) req_->set(k, v);
    req_->body() = beast::span<const char>(body_->data(), body_->size());
    req_->keep_alive(true);
    req_->prepare_payload();
    conn_->stream.expires_at(deadline_);
    http::async_write(conn_->stream, *req_, beast::bind_front_handler(&Exchange::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (ec) {
      if (reused_ && !retried_ && ec != beast::error::timeout) {
        retried_ = true;
        close_stream(conn_->stream);
        return do_resolve();
      }
      return fail(HttpStage::kSend, ec);
    }
    parser_.emplace();
    parser_->body_limit(kMaxResponseBytes);
    parser_->header_limit(kHeaderLimit);
    conn_->stream.expires_at(deadline_);
    // The header first: Boost 1.74's eager parser skips the Content-Length check against
    // body_limit when body bytes arrive in the same read as the header, so check it here.
    http::async_read_header(conn_->stream, conn_->buffer, *parser_,
                            beast::bind_front_handler(&Exchange::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    // A pooled connection the target closed while it sat idle: the write still succeeds (the
    // kernel takes it) and the close shows up here, before a byte of the answer. The request
    // never reached a live server, so it goes once more on a new connection (Go's transport
    // does the same for any method).
    if (reused_ && !retried_ && (ec == http::error::end_of_stream || ec == net::error::connection_reset)) {
      retried_ = true;
      close_stream(conn_->stream);
      return do_resolve();
    }
    if (ec) return fail(HttpStage::kReceive, ec);
    if (auto len = parser_->content_length(); len && *len > kMaxResponseBytes)
      return fail(HttpStage::kReceive, http::error::body_limit);
    http::async_read(conn_->stream, conn_->buffer, *parser_,
                     beast::bind_front_handler(&Exchange::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return fail(HttpStage::kReceive, ec);
    http::response<http::string_body> res = parser_->release();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    out.body = std::move(res.body());
    conn_->stream.expires_never();
    if (res.keep_alive() && conn_->buffer.size() == 0) {
      client_->give_back(conn_);
    } else {
      close_stream(conn_->stream);
    }
    finish(std::move(out));
  }

  void fail(HttpStage stage, beast::error_code ec) {
    HttpFailure f;
    f.stage = stage;
    f.timed_out = ec == beast::error::timeout;
    f.body_too_large = ec == http::error::body_limit;
    // end_of_stream / partial_message: the peer closed the connection; any other parser error
    // means it did not speak HTTP/1.1.
    f.malformed = ec.category() == http::make_error_code(http::error::end_of_stream).category() && !f.body_too_large &&
                  ec != http::error::end_of_stream && ec != http::error::partial_message;
    f.message = ec.message();
    if (conn_) close_stream(conn_->stream);
    finish(std::move(f));
  }

  void finish(HttpResult r) {
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(r));
  }

  std::shared_ptr<HttpClient> client_;
  HttpUrl url_;
  std::string key_;
  HttpHeaders headers_;
  std::shared_ptr<const std::string> body_;
  std::chrono::steady_clock::time_point deadline_;
  Done done_;
  std::shared_ptr<Conn> conn_;
  std::optional<tcp::resolver> resolver_;
  std::optional<http::request<http::span_body<const char>>> req_;
  std::optional<http::response_parser<http::string_body>> parser_;
  bool reused_ = false;
  bool retried_ = false;
};

void HttpClient::post(const HttpUrl& url, HttpHeaders headers, std::shared_ptr<const std::string> body,
                      std::chrono::steady_clock::time_point deadline, Done done) {
  auto ex = std::make_shared<Exchange>(shared_from_this(), url, std::move(headers), std::move(body), deadline,
                                       std::move(done));
  // Posted, so that no completion ever runs inside the caller's post().
  net::post(ioc_, [ex] { ex->start(); });
}

void HttpClient::take(const std::string& key, std::function<void(std::shared_ptr<Conn>)> cb) {
  std::shared_ptr<Conn> c;
  {
    std::lock_guard lk(mu_);
    auto it = idle_.find(key);
    if (it != idle_.end() && !it->second.empty()) {
      // Most recently used first: the least likely to have been closed by an idle timeout.
      c = std::move(it->second.back());
      it->second.pop_back();
    }
  }
  if (!c) return cb(nullptr);
  net::dispatch(c->stream.get_executor(), [self = shared_from_this(), c, key, cb = std::move(cb)]() mutable {
    auto on_claim = [self, c, key, cb = std::move(cb)](bool alive) mutable {
      if (alive) return cb(c);
      self->take(key, std::move(cb));
    };
    if (c->dead) return on_claim(false);
    c->claim = std::move(on_claim);
    c->stream.cancel();
  });
}

void HttpClient::watch(const std::shared_ptr<Conn>& c) {
  c->stream.expires_after(kIdleTimeout);
  c->stream.async_read_some(net::buffer(&c->probe, 1),
                            [self = shared_from_this(), c](beast::error_code ec, std::size_t) {
                              if (c->claim) {
                                auto claim = std::move(c->claim);
                                c->claim = nullptr;
                                const bool alive = ec == net::error::operation_aborted;
                                if (!alive) close_stream(c->stream);
                                return claim(alive);
                              }
                              // Closed by the peer, idle too long, or unsolicited bytes.
                              c->dead = true;
                              self->forget(c);
                              close_stream(c->stream);
                            });
}

void HttpClient::give_back(const std::shared_ptr<Conn>& c) {
  {
    std::lock_guard lk(mu_);
    if (idle_[c->key].size() >= kMaxIdlePerHost) {
      close_stream(c->stream);
      return;
    }
  }
  // The probe read must be pending before another thread can take the connection and cancel it.
  watch(c);
  std::lock_guard lk(mu_);
  idle_[c->key].push_back(c);
}

void HttpClient::forget(const std::shared_ptr<Conn>& c) {
  std::lock_guard lk(mu_);
  auto it = idle_.find(c->key);
  if (it == idle_.end()) return;
  auto& v = it->second;
  v.erase(std::remove(v.begin(), v.end(), c), v.end());
  if (v.empty()) idle_.erase(it);
}

std::size_t HttpClient::idle_connections() const {
  std::lock_guard lk(mu_);
  std::size_t n = 0;
  for (const auto& [_, v] : idle_) n += v.size();
  return n;
}

std::uint64_t HttpClient::connections_opened() const {
  std::lock_guard lk(mu_);
  return opened_;
}

}  // namespace esm::pollers
