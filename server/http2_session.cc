#include "server/http2_session.h"

#include <nghttp2/nghttp2.h>
#include <spdlog/spdlog.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "api/errors.h"
#include "core/uuid.h"
#include "server/http_request.h"

namespace esm::server {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// As on HTTP/1.1: long enough for an idle client between requests; a stalled sender or a
// client that stops reading is cut off.
constexpr auto kReadTimeout = std::chrono::seconds(75);
constexpr auto kWriteTimeout = std::chrono::seconds(30);
constexpr std::size_t kHeaderLimit = 64 * 1024;
// An oversized body up to this size is read and dropped after the 413.
constexpr std::uint64_t kDrainLimit = 64ull * 1024 * 1024;
constexpr std::uint32_t kMaxStreams = 100;
// What all of a connection's request bodies may hold at once (100 streams of 8 MiB would be
// 800 MiB). A stream whose DATA would go past it is reset with REFUSED_STREAM, which tells the
// client that nothing of it was processed and that it may send it again (RFC 9113 8.7).
constexpr std::size_t kConnectionBodyLimit = 64ull * 1024 * 1024;
// Windows wider than HTTP/2's 64 KiB default: a 5 MiB PutRecords would otherwise wait for a
// WINDOW_UPDATE every 32 KiB.
constexpr std::int32_t kStreamWindow = 1 << 20;
constexpr std::int32_t kConnectionWindow = 16 << 20;
// What one write gathers from nghttp2 at most; a larger answer goes out in several.
constexpr std::size_t kWriteChunk = 256 * 1024;

// RFC 9113 8.2.2: these fields make an HTTP/2 message malformed; content-length is set here.
bool dropped_in_http2(std::string_view lower) {
  return lower == "connection" || lower == "keep-alive" || lower == "proxy-connection" ||
         lower == "transfer-encoding" || lower == "upgrade" || lower == "content-length";
}

bool bodiless_status(int status) { return (status >= 100 && status < 200) || status == 204 || status == 304; }

}  // namespace

std::vector<std::pair<std::string, std::string>> http2_response_fields(const api::Response& r,
                                                                       const std::string& request_id) {
  std::vector<std::pair<std::string, std::string>> fields;
  fields.reserve(5 + r.headers.size());
  fields.emplace_back(":status", std::to_string(r.status));
  auto set = [&fields](std::string_view name, std::string_view value) {
    std::string lower(name);
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower.empty() || lower.front() == ':' || dropped_in_http2(lower)) return;
    for (auto& f : fields)
      if (f.first == lower) {
        f.second = value;
        return;
      }
    fields.emplace_back(std::move(lower), std::string(value));
  };
  set("server", "esmd");
  if (!r.content_type.empty()) set("content-type", r.content_type);
  set("x-amzn-requestid", request_id);
  for (const auto& [k, v] : r.headers) set(k, v);
  if (!bodiless_status(r.status)) fields.emplace_back("content-length", std::to_string(r.body.size()));
  return fields;
}

// nghttp2 calls these on the session's strand, from inside nghttp2_session_mem_recv and
// nghttp2_session_mem_send: they may submit frames but never start I/O or close.
struct Http2Session::Callbacks {
  static Http2Session& of(void* p) { return *static_cast<Http2Session*>(p); }
  static bool request_headers(const nghttp2_frame* frame) {
    return frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST;
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* p) {
    if (!request_headers(frame)) return 0;  // trailers belong to a stream that exists
    auto s = std::make_unique<Stream>();
    s->started = Clock::now();
    of(p).streams_.emplace(frame->hd.stream_id, std::move(s));
    return 0;
  }

  // nghttp2 has checked the fields (RFC 9113 8.2 and 8.3: lower-case names, the pseudo-headers
  // a request needs, no connection-specific fields); trailers are dropped, as Beast's parser
  // drops chunked trailers on HTTP/1.1.
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen,
                       const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void* p) {
    if (!request_headers(frame)) return 0;
    Stream* s = of(p).stream(frame->hd.stream_id);
    if (!s) return 0;
    // RFC 9113 6.5.2's accounting (32 bytes of overhead a field); over the limit the stream is reset.
    s->header_bytes += namelen + valuelen + 32;
    if (s->header_bytes > kHeaderLimit) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":method") {
      s->req.method = v;
    } else if (n == ":path") {
      s->req.target = v;
    } else if (n == ":authority") {
      s->req.headers.emplace_back("host", v);  // RFC 9113 8.3.1: it stands for Host
    } else if (!n.starts_with(':')) {
      s->req.headers.emplace_back(n, v);
    }
    return 0;
  }

  static int on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t id, const std::uint8_t* data,
                           std::size_t len, void* p) {
    Http2Session& self = of(p);
    Stream* s = self.stream(id);
    if (!s) return 0;
    if (s->too_large) {
      // As on HTTP/1.1, the rest of the body is read and dropped so that the client sees the
      // 413 (curl, for one, reports a RST_STREAM after the answer as an error), up to a limit.
      const bool was_under = s->dropped <= kDrainLimit;
      s->dropped += len;
      if (was_under && s->dropped > kDrainLimit)
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
      return 0;
    }
    if (s->refused) return 0;
    if (s->req.body.size() + len > s->limit) return self.refuse_too_large(id, *s), 0;
    if (self.bodies_held_ + len > kConnectionBodyLimit) {
      self.release_body(*s);
      s->refused = true;
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
      return 0;
    }
    s->req.body.append(reinterpret_cast<const char*>(data), len);
    s->held += len;
    self.bodies_held_ += len;
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* p) {
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    Http2Session& self = of(p);
    const std::int32_t id = frame->hd.stream_id;
    Stream* s = self.stream(id);
    if (!s) return 0;
    if (request_headers(frame)) self.on_headers_done(id, *s);
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && !s->too_large && !s->refused) self.on_request_done(id, *s);
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t, void* p) {
    Http2Session& self = of(p);
    const auto it = self.streams_.find(id);
    if (it == self.streams_.end()) return 0;
    // A stream still waiting for its handler leaves `active` when the reply comes.
    if (it->second->dispatched && it->second->answered) ++self.done_unwritten_;
    self.release_body(*it->second);
    self.streams_.erase(it);
    return 0;
  }

  static ssize_t read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                           std::uint32_t* flags, nghttp2_data_source* source, void*) {
    auto* s = static_cast<Stream*>(source->ptr);
    const std::size_t n = std::min(length, s->body_out.size() - s->sent);
    std::memcpy(buf, s->body_out.data() + s->sent, n);
    s->sent += n;
    if (s->sent == s->body_out.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
};

Http2Session::Http2Session(tcp::socket&& socket, const Handler& handler, std::shared_ptr<std::atomic<int>> active)
    : socket_(std::move(socket)), timer_(socket_.get_executor()), handler_(handler), active_(std::move(active)) {
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) throw std::bad_alloc();
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Callbacks::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Callbacks::on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Callbacks::on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Callbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Callbacks::on_stream_close);
  const int rv = nghttp2_session_server_new(&session_, cbs, this);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) throw std::bad_alloc();
}

Http2Session::~Http2Session() { nghttp2_session_del(session_); }

void Http2Session::run(std::string received) {
  net::dispatch(socket_.get_executor(),
                [self = shared_from_this(), received = std::move(received)]() mutable { self->start(std::move(received)); });
}

void Http2Session::start(std::string received) {
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<std::uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(kHeaderLimit)},
  };
  if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings)) != 0 ||
      nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow) != 0)
    return close();
  last_activity_ = Clock::now();
  arm_timer(kReadTimeout);
  receive(reinterpret_cast<const std::uint8_t*>(received.data()), received.size());
  do_write();
  if (!closed_ && nghttp2_session_want_read(session_)) do_read();
}

void Http2Session::receive(const std::uint8_t* data, std::size_t n) {
  const auto rv = nghttp2_session_mem_recv(session_, data, n);
  if (rv < 0) {
    // Only the fatal errors come back (a bad client preface, flooding): the others nghttp2
    // has answered itself with RST_STREAM or GOAWAY.
    spdlog::debug("http2: closing the connection: {}", nghttp2_strerror(static_cast<int>(rv)));
    nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
  }
}

void Http2Session::do_read() {
  if (closed_) return;
  socket_.async_read_some(net::buffer(read_buf_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                                std::size_t n) { self->on_read(ec, n); });
}

void Http2Session::on_read(const boost::system::error_code& ec, std::size_t n) {
  if (closed_) return;
  if (ec) return close();  // end of stream, reset, or closed
  last_activity_ = Clock::now();
  receive(read_buf_.data(), n);
  do_write();
  if (!closed_ && nghttp2_session_want_read(session_)) do_read();
}

void Http2Session::do_write() {
  if (writing_ || closed_) return;
  out_.clear();
  while (out_.size() < kWriteChunk) {
    const std::uint8_t* data = nullptr;
    const auto n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      spdlog::debug("http2: closing the connection: {}", nghttp2_strerror(static_cast<int>(n)));
      return close();
    }
    if (n == 0) break;
    out_.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
  const int done = std::exchange(done_unwritten_, 0);
  if (out_.empty()) {
    *active_ -= done;
    if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) close();
    return;
  }
  writing_ = true;
  write_started_ = Clock::now();
  net::async_write(socket_, net::buffer(out_),
                   [self = shared_from_this(), done](const boost::system::error_code& ec, std::size_t) {
                     self->on_write(ec, done);
                   });
}

void Http2Session::on_write(const boost::system::error_code& ec, int done) {
  writing_ = false;
  *active_ -= done;
  if (closed_) return;
  if (ec) return close();
  last_activity_ = Clock::now();
  do_write();
}

void Http2Session::arm_timer(Clock::duration after) {
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->on_timer();
  });
}

// One timer a connection, never reset on the way: it wakes at the earliest moment a limit could
// be reached and looks at the clock.
void Http2Session::on_timer() {
  if (closed_) return;
  const auto now = Clock::now();
  if (writing_ && now - write_started_ >= kWriteTimeout) return close();  // the client does not read
  const bool waiting = std::any_of(streams_.begin(), streams_.end(),
                                   [](const auto& e) { return e.second->dispatched && !e.second->answered; });
  if (!waiting && now - last_activity_ >= kReadTimeout) {
    // Idle, or a sender that stalled: GOAWAY, and the connection closes once it is written.
    spdlog::debug("http2: closing an idle connection");
    nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
    do_write();
    if (closed_) return;
  }
  auto next = waiting ? now + kReadTimeout : last_activity_ + kReadTimeout;
  if (writing_) next = std::min(next, write_started_ + kWriteTimeout);
  arm_timer(std::max<Clock::duration>(next - now, std::chrono::seconds(1)));
}

void Http2Session::close() {
  if (closed_) return;
  closed_ = true;
  for (const auto& [id, s] : streams_)
    if (s->dispatched && s->answered) --*active_;
  streams_.clear();
  *active_ -= std::exchange(done_unwritten_, 0);
  timer_.cancel();
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  socket_.close(ec);
}

Http2Session::Stream* Http2Session::stream(std::int32_t id) {
  const auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Http2Session::on_headers_done(std::int32_t id, Stream& s) {
  s.method = s.req.method;
  s.limit = body_limit_for(s.req.header("x-amz-target"));
  // A Content-Length over the limit is refused at once: a client may wait for that answer
  // before it sends the body. (nghttp2 checks that the DATA add up to it.)
  const std::string_view length = s.req.header("content-length");
  std::uint64_t n = 0;
  if (!length.empty() && std::from_chars(length.data(), length.data() + length.size(), n).ec == std::errc{} &&
      n > s.limit)
    refuse_too_large(id, s);
}

void Http2Session::release_body(Stream& s) {
  bodies_held_ -= s.held;
  s.held = 0;
  std::string().swap(s.req.body);
}

void Http2Session::refuse_too_large(std::int32_t id, Stream& s) {
  s.too_large = true;
  release_body(s);
  s.request_id = new_uuid();
  submit(id, s, too_large_response(s.limit));
}

void Http2Session::on_request_done(std::int32_t id, Stream& s) {
  if (s.dispatched) return;
  api::Request req = to_api_request(std::move(s.req.method), std::move(s.req.target), std::move(s.req.headers),
                                    std::move(s.req.body));
  s.request_id = req.request_id;
  s.path = req.path;
  s.dispatched = true;
  ++*active_;
  auto self = shared_from_this();
  auto reply = [self, id](api::Response r) {
    net::post(self->socket_.get_executor(),
              [self, id, r = std::move(r)]() mutable { self->on_reply(id, std::move(r)); });
  };
  try {
    handler_(std::move(req), std::move(reply));
  } catch (const std::exception& e) {
    spdlog::error("handler threw: {}", e.what());
    // Inside nghttp2's callback: the answer is submitted from the strand's queue.
    net::post(socket_.get_executor(), [self, id, r = api::lambda_error(internal_error(e.what()))]() mutable {
      self->on_reply(id, std::move(r));
    });
  }
}

void Http2Session::on_reply(std::int32_t id, api::Response r) {
  Stream* s = stream(id);
  if (!s) {
    --*active_;  // the client reset the stream or left
    return;
  }
  submit(id, *s, std::move(r));
  do_write();
}

void Http2Session::submit(std::int32_t id, Stream& s, api::Response r) {
  if (spdlog::should_log(spdlog::level::debug)) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - s.started);
    spdlog::debug("{} {} -> {} ({} us, HTTP/2)", s.method, s.path.empty() ? s.req.target : s.path, r.status,
                  us.count());
  }
  const auto fields = http2_response_fields(r, s.request_id);
  std::vector<nghttp2_nv> nva;
  nva.reserve(fields.size());
  for (const auto& [name, value] : fields)
    nva.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                   reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                   NGHTTP2_NV_FLAG_NONE});
  s.answered = true;
  const bool with_body = !r.body.empty() && !bodiless_status(r.status) && s.method != "HEAD";
  s.body_out = with_body ? std::move(r.body) : std::string();
  s.sent = 0;
  nghttp2_data_provider body{};
  body.source.ptr = &s;
  body.read_callback = &Callbacks::read_body;
  if (const int rv = nghttp2_submit_response(session_, id, nva.data(), nva.size(), with_body ? &body : nullptr);
      rv != 0) {
    spdlog::debug("http2: cannot answer stream {}: {}", id, nghttp2_strerror(rv));
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
  }
}

}  // namespace esm::server
