#include <catch2/catch.hpp>
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <algorithm>
#include <cerrno>
#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/http2_session.h"
#include "server/http_server.h"

namespace net = boost::asio;
using esm::server::HttpServer;
using tcp = net::ip::tcp;

namespace {

// esmd's HttpServer on a loopback port, with a handler that keeps each request and its Reply
// for the test to answer, from the test's thread, in any order.
struct Server {
  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(ioc);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<esm::api::Request, esm::api::Reply>> pending;
  HttpServer http{ioc, [this](esm::api::Request req, esm::api::Reply reply) {
                    std::lock_guard lock(mu);
                    pending.emplace_back(std::move(req), std::move(reply));
                    cv.notify_all();
                  }};
  std::thread thread;

  Server() {
    REQUIRE(http.listen("127.0.0.1", 0).is_ok());
    thread = std::thread([this] { ioc.run(); });
  }
  ~Server() {
    http.stop();
    work.reset();
    ioc.stop();
    thread.join();
  }
  std::size_t count() {
    std::lock_guard lock(mu);
    return pending.size();
  }
  // Waits for n requests to have reached the handler.
  bool wait_requests(std::size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(5), [&] { return pending.size() >= n; });
  }
};

// A blocking HTTP/2 client on nghttp2, pumped by the test.
struct Client {
  struct Answer {
    std::map<std::string, std::string> headers;
    std::string body;
    bool closed = false;
    std::uint32_t error = 0;
  };
  struct Upload {
    std::string body;
    std::size_t sent = 0;
  };

  net::io_context ioc;
  tcp::socket socket{ioc};
  nghttp2_session* session = nullptr;
  std::map<std::int32_t, Answer> answers;
  std::map<std::int32_t, std::unique_ptr<Upload>> uploads;

  explicit Client(int port) {
    socket.connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    timeval tv{0, 50 * 1000};  // reads give up after 50 ms, so that pump() can look at its deadline
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(
        cbs, [](nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* n, std::size_t nl,
                const std::uint8_t* v, std::size_t vl, std::uint8_t, void* p) {
          static_cast<Client*>(p)->answers[f->hd.stream_id].headers[std::string(n, n + nl)] = std::string(v, v + vl);
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cbs, [](nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* d, std::size_t len, void* p) {
          static_cast<Client*>(p)->answers[id].body.append(reinterpret_cast<const char*>(d), len);
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cbs, [](nghttp2_session*, std::int32_t id, std::uint32_t error, void* p) {
          auto& a = static_cast<Client*>(p)->answers[id];
          a.closed = true;
          a.error = error;
          return 0;
        });
    nghttp2_session_client_new(&session, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~Client() { nghttp2_session_del(session); }

  std::int32_t request(const std::string& method, const std::string& path, std::vector<std::pair<std::string, std::string>> fields = {},
                       std::string body = "") {
    fields.insert(fields.begin(), {{":method", method}, {":scheme", "http"}, {":path", path}, {":authority", "localhost:9070"}});
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : fields)
      nva.push_back({reinterpret_cast<std::uint8_t*>(n.data()), reinterpret_cast<std::uint8_t*>(v.data()), n.size(),
                     v.size(), NGHTTP2_NV_FLAG_NONE});
    auto upload = std::make_unique<Upload>(Upload{std::move(body)});
    nghttp2_data_provider prd{};
    prd.source.ptr = upload.get();
    prd.read_callback = [](nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length, std::uint32_t* flags,
                           nghttp2_data_source* src, void*) -> ssize_t {
      auto* u = static_cast<Upload*>(src->ptr);
      const std::size_t n = std::min(length, u->body.size() - u->sent);
      std::memcpy(buf, u->body.data() + u->sent, n);
      u->sent += n;
      if (u->sent == u->body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    };
    const std::int32_t id =
        nghttp2_submit_request(session, nullptr, nva.data(), nva.size(), method == "GET" ? nullptr : &prd, nullptr);
    uploads[id] = std::move(upload);
    return id;
  }

  // Sends and receives until done() or 5 s; false at the deadline or when the server closes.
  bool pump(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      const std::uint8_t* data = nullptr;
      for (ssize_t n; (n = nghttp2_session_mem_send(session, &data)) > 0;)
        net::write(socket, net::buffer(data, static_cast<std::size_t>(n)));
      if (done()) break;
      std::array<std::uint8_t, 65536> buf;
      // recv itself: Asio's read_some would wait in poll() past SO_RCVTIMEO.
      const ssize_t n = ::recv(socket.native_handle(), buf.data(), buf.size(), 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (n <= 0) return false;
      if (nghttp2_session_mem_recv(session, buf.data(), static_cast<std::size_t>(n)) < 0) return false;
    }
    return true;
  }
};

}  // namespace

TEST_CASE("h2c streams become requests and are answered in any order on one connection") {
  Server server;
  Client client(server.http.port());
  const auto a = client.request("GET", "/_esmd/a%20b?x=1&y=2", {{"x-custom", "v"}});
  const auto b = client.request("POST", "/", {{"x-amz-target", "Kinesis_20131202.ListStreams"}}, "{\"k\":1}");
  REQUIRE(client.pump([&] { return server.count() >= 2; }));
  auto& first = server.pending[0].first.method == "GET" ? server.pending[0] : server.pending[1];
  auto& second = &first == &server.pending[0] ? server.pending[1] : server.pending[0];
  CHECK(first.first.path == "/_esmd/a b");
  CHECK(first.first.target == "/_esmd/a%20b?x=1&y=2");
  REQUIRE(first.first.query_param("y"));
  CHECK(*first.first.query_param("y") == "2");
  CHECK(first.first.header("host") == "localhost:9070");  // from :authority
  CHECK(first.first.header("x-custom") == "v");
  CHECK(!first.first.request_id.empty());
  CHECK(second.first.body == "{\"k\":1}");
  CHECK(!server.http.wait_idle(std::chrono::milliseconds(0)));

  // The second request is answered first, from this thread.
  second.second(esm::api::Response{200, "application/x-amz-json-1.1", {{"X-Extra", "1"}}, "{\"ok\":true}"});
  first.second(esm::api::Response{404, "application/json", {}, "{}"});
  REQUIRE(client.pump([&] { return client.answers[a].closed && client.answers[b].closed; }));
  CHECK(client.answers[a].headers[":status"] == "404");
  CHECK(client.answers[b].headers[":status"] == "200");
  CHECK(client.answers[b].headers["content-type"] == "application/x-amz-json-1.1");
  CHECK(client.answers[b].headers["x-extra"] == "1");
  CHECK(client.answers[b].headers["content-length"] == "11");
  CHECK(client.answers[b].body == "{\"ok\":true}");
  CHECK(!client.answers[b].headers["x-amzn-requestid"].empty());
  CHECK(client.answers[b].error == NGHTTP2_NO_ERROR);
  CHECK(server.http.wait_idle(std::chrono::seconds(5)));
}

TEST_CASE("an h2c body over the limit is answered 413 and never reaches the handler") {
  Server server;
  Client client(server.http.port());
  const auto id = client.request("POST", "/2015-03-31/event-source-mappings/", {{"content-type", "application/json"}},
                                 std::string(esm::server::kBodyLimit + 1, 'a'));
  REQUIRE(client.pump([&] { return client.answers[id].closed; }));
  CHECK(client.answers[id].headers[":status"] == "413");
  CHECK(client.answers[id].body.find("Request must be smaller than") != std::string::npos);
  CHECK(server.count() == 0);
  // The connection carries on.
  client.request("GET", "/_esmd/health");
  REQUIRE(client.pump([&] { return server.count() == 1; }));
  server.pending[0].second(esm::api::Response{});
  CHECK(server.http.wait_idle(std::chrono::seconds(5)));
}

TEST_CASE("the bodies of one h2c connection are bounded: streams past 64 MiB are refused, the rest handled") {
  Server server;
  Client client(server.http.port());
  // Twelve bodies of 6 MiB, each under the limit of a request, held by a handler that answers
  // none of them yet: 72 MiB in all.
  constexpr std::size_t kBody = 6 * 1024 * 1024;
  std::vector<std::int32_t> ids;
  for (int i = 0; i < 12; ++i)
    ids.push_back(client.request("POST", "/", {{"content-type", "application/json"}}, std::string(kBody, 'a' + i)));
  auto settled = [&] {
    std::size_t refused = 0;
    for (auto id : ids) refused += client.answers[id].closed ? 1 : 0;
    return refused + server.count() == ids.size();
  };
  REQUIRE(client.pump(settled));
  std::size_t handled_bytes = 0;
  for (auto& [req, _] : server.pending) {
    CHECK(req.body.size() == kBody);  // a handled request has its whole body
    handled_bytes += req.body.size();
  }
  CHECK(handled_bytes <= 64u * 1024 * 1024);
  CHECK(server.count() >= 1);
  CHECK(server.count() < ids.size());
  for (auto id : ids)
    if (client.answers[id].closed) CHECK(client.answers[id].error == NGHTTP2_REFUSED_STREAM);
  // Once answered, their bytes are free again: another 6 MiB request is handled.
  for (auto& [_, reply] : server.pending) reply(esm::api::Response{});
  const std::size_t before = server.count();
  REQUIRE(client.pump([&] {
    for (auto id : ids)
      if (!client.answers[id].closed) return false;
    return true;
  }));
  const auto again = client.request("POST", "/", {}, std::string(kBody, 'z'));
  REQUIRE(client.pump([&] { return server.count() == before + 1; }));
  CHECK(server.pending.back().first.body.size() == kBody);
  server.pending.back().second(esm::api::Response{});
  REQUIRE(client.pump([&] { return client.answers[again].closed; }));
  CHECK(client.answers[again].headers[":status"] == "200");
  CHECK(server.http.wait_idle(std::chrono::seconds(5)));
}

TEST_CASE("a stream the client resets while its handler runs leaves the active count when the reply comes") {
  Server server;
  Client client(server.http.port());
  const auto id = client.request("GET", "/slow");
  REQUIRE(client.pump([&] { return server.count() == 1; }));
  nghttp2_submit_rst_stream(client.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  REQUIRE(client.pump([&] { return client.answers[id].closed; }));
  CHECK(!server.http.wait_idle(std::chrono::milliseconds(50)));
  server.pending[0].second(esm::api::Response{});
  CHECK(server.http.wait_idle(std::chrono::seconds(5)));
}

TEST_CASE("HTTP/2 response fields are lower-case, replace earlier ones and leave out connection fields") {
  esm::api::Response r{204, "application/json", {{"Content-Type", "text/plain"}, {"Connection", "close"}, {"X-A", "1"}}, ""};
  const auto fields = esm::server::http2_response_fields(r, "rid");
  CHECK(fields == std::vector<std::pair<std::string, std::string>>{
                      {":status", "204"}, {"server", "esmd"}, {"content-type", "text/plain"}, {"x-amzn-requestid", "rid"},
                      {"x-a", "1"}});
  r.status = 200;
  r.body = "abc";
  CHECK(esm::server::http2_response_fields(r, "rid").back() == std::pair<std::string, std::string>{"content-length", "3"});
}
