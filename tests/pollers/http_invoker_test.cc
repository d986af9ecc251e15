// The http target path end to end: FunctionInvoker -> HttpClient -> a FakeFunctionServer.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pollers/http_client.h"
#include "pollers/invoker.h"
#include "tests/fakes/fake_function_server.h"
#include "tests/pollers/invoker_harness.h"

namespace esm::pollers {
namespace {

using testing::FakeFunctionServer;
using testing::InvokerHarness;

FakeFunctionServer::Handler answer(int status, std::string body,
                                   std::vector<std::pair<std::string, std::string>> headers = {}) {
  return [=](const FakeFunctionServer::Request&) { return FakeFunctionServer::reply(status, body, headers); };
}

FakeFunctionServer::Handler echo() {
  return [](const FakeFunctionServer::Request& r) { return FakeFunctionServer::reply(200, r.body()); };
}

// Lets handlers wait for each other without sleeping.
struct Rendezvous {
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  bool open = false;
  // Waits until n handlers arrived (or the deadline passed); true if they did.
  bool meet(int n) {
    std::unique_lock lk(mu);
    ++arrived;
    cv.notify_all();
    return cv.wait_for(lk, std::chrono::seconds(5), [&] { return arrived >= n; });
  }
  void wait_open() {
    std::unique_lock lk(mu);
    cv.wait_for(lk, std::chrono::seconds(10), [&] { return open; });
  }
  void release() {
    std::lock_guard lk(mu);
    open = true;
    cv.notify_all();
  }
};

int closed_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

TEST_CASE("http: the event is POSTed with the Invoke API headers and the body is the response") {
  FakeFunctionServer server(echo());
  InvokerHarness h;
  h.put("fn", server.url());
  auto o = h.invoke(InvokerHarness::arn("fn"), R"({"Records":[1]})");
  CHECK(o.status == InvokeStatus::kSuccess);
  CHECK(o.http_status == 200);
  CHECK(o.payload == R"({"Records":[1]})");
  auto seen = server.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].target == "/2015-03-31/functions/function/invocations");
  CHECK(seen[0].headers["x-amz-invocation-type"] == "RequestResponse");
  CHECK(seen[0].headers["content-type"] == "application/json");
  CHECK(seen[0].body == R"({"Records":[1]})");
}

TEST_CASE("http: a qualified ARN adds ?Qualifier= to an Invoke API path, and only there") {
  FakeFunctionServer server(echo());
  InvokerHarness h;
  h.put("fn", server.url("/2015-03-31/functions/fn/invocations"));
  h.put("plain", server.url("/handler"));
  CHECK(h.invoke(InvokerHarness::arn("fn") + ":prod", "{}").status == InvokeStatus::kSuccess);
  CHECK(h.invoke(InvokerHarness::arn("plain") + ":prod", "{}").status == InvokeStatus::kSuccess);
  auto seen = server.requests();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].target == "/2015-03-31/functions/fn/invocations?Qualifier=prod");
  CHECK(seen[1].target == "/handler");
  CHECK(invoke_url("http://h/2015-03-31/functions/f/invocations?x=1", "$LATEST") ==
        "http://h/2015-03-31/functions/f/invocations?x=1&Qualifier=%24LATEST");
}

TEST_CASE("http: executed version and request id come from the response headers") {
  FakeFunctionServer server(answer(200, "{}", {{"X-Amz-Executed-Version", "3"}, {"x-amzn-RequestId", "rid-1"}}));
  InvokerHarness h;
  h.put("fn", server.url());
  auto o = h.invoke(InvokerHarness::arn("fn"), "{}");
  CHECK(o.executed_version == "3");
  CHECK(o.request_id == "rid-1");
}

TEST_CASE("http: function errors from the header, an RIE error body and an RIE timeout body") {
  InvokerHarness h;
  FakeFunctionServer header(answer(200, R"({"errorMessage":"x"})", {{"X-Amz-Function-Error", "Handled"}}));
  FakeFunctionServer body(answer(200, R"({"errorMessage":"boom","errorType":"Exception","stackTrace":[]})"));
  FakeFunctionServer timeout(answer(200, "Task timed out after 3.00 seconds"));
  FakeFunctionServer crashed(answer(502, ""));
  h.put("header", header.url());
  h.put("body", body.url());
  h.put("timeout", timeout.url());
  h.put("crashed", crashed.url());
  auto a = h.invoke(InvokerHarness::arn("header"), "{}");
  CHECK(a.status == InvokeStatus::kFunctionError);
  CHECK(a.function_error == "Handled");
  for (const char* name : {"body", "timeout", "crashed"}) {
    INFO(name);
    auto o = h.invoke(InvokerHarness::arn(name), "{}");
    CHECK(o.status == InvokeStatus::kFunctionError);
    CHECK(o.function_error == "Unhandled");
    CHECK(o.http_status == 200);
  }
}

TEST_CASE("http: 404, 429 and 500 are invoke errors") {
  InvokerHarness h;
  for (int status : {404, 429, 500}) {
    FakeFunctionServer server(answer(status, R"({"Type":"User","Message":"no"})"));
    h.put("fn", server.url());
    auto o = h.invoke(InvokerHarness::arn("fn"), "{}");
    INFO(status);
    CHECK(o.status == InvokeStatus::kInvokeError);
    CHECK(o.http_status == status);
  }
}

TEST_CASE("http: a refused connection is an invoke error") {
  InvokerHarness h;
  h.put("fn", "http://127.0.0.1:" + std::to_string(closed_port()) + "/2015-03-31/functions/function/invocations");
  auto o = h.invoke(InvokerHarness::arn("fn"), "{}");
  CHECK(o.status == InvokeStatus::kInvokeError);
  CHECK(o.detail.find("connect") != std::string::npos);
}

TEST_CASE("http: a connection dropped after the request was sent is an Unhandled function error") {
  FakeFunctionServer server([](const FakeFunctionServer::Request&) { return std::nullopt; });
  InvokerHarness h;
  h.put("fn", server.url());
  auto o = h.invoke(InvokerHarness::arn("fn"), "{}");
  CHECK(o.status == InvokeStatus::kFunctionError);
  CHECK(o.function_error == "Unhandled");
  CHECK(server.requests().size() == 1);  // not retried
}

TEST_CASE("http: sequential invocations reuse one keep-alive connection") {
  FakeFunctionServer server(echo());
  InvokerHarness h;
  h.put("fn", server.url());
  for (int i = 0; i < 5; ++i) CHECK(h.invoke(InvokerHarness::arn("fn"), "{}").status == InvokeStatus::kSuccess);
  CHECK(server.connections() == 1);
}

TEST_CASE("http: with concurrency 1 requests to one target never overlap and keep their order") {
  FakeFunctionServer server(echo());
  InvokerHarness h(4);
  h.put("fn", server.url());
  h.put("alias", server.url());  // a second function on the same RIE shares its one slot
  std::vector<std::future<InvokeOutcome>> fs;
  for (int i = 0; i < 8; ++i)
    fs.push_back(h.start(InvokerHarness::arn(i % 2 ? "alias" : "fn"), std::to_string(i)));
  for (int i = 0; i < 8; ++i) {
    auto o = InvokerHarness::wait(fs[static_cast<std::size_t>(i)]);
    CHECK(o.status == InvokeStatus::kSuccess);
    CHECK(o.payload == std::to_string(i));
  }
  CHECK(server.max_in_flight() == 1);
  auto seen = server.requests();
  REQUIRE(seen.size() == 8);
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i].body == std::to_string(i));
}

TEST_CASE("http: with concurrency 3 three requests are open at once") {
  Rendezvous r;
  FakeFunctionServer server([&r](const FakeFunctionServer::Request& req) {
    r.meet(3);
    return FakeFunctionServer::reply(200, req.body());
  });
  InvokerHarness h(2);
  h.put("fn", server.url(), 3000, 3);
  std::vector<std::future<InvokeOutcome>> fs;
  for (int i = 0; i < 6; ++i) fs.push_back(h.start(InvokerHarness::arn("fn"), "{}"));
  for (auto& f : fs) CHECK(InvokerHarness::wait(f).status == InvokeStatus::kSuccess);
  CHECK(server.max_in_flight() == 3);
}

TEST_CASE("http: an answer after the function timeout is a timeout naming that timeout, not a success") {
  // The function's own time is the subject here: the handler outlasts a 100 ms timeout.
  FakeFunctionServer server([](const FakeFunctionServer::Request&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    return FakeFunctionServer::reply(200, R"({"late":true})");
  });
  InvokerHarness h;
  h.put("fn", server.url(), 100);
  auto o = h.invoke(InvokerHarness::arn("fn"), "{}");
  CHECK(o.status == InvokeStatus::kFunctionError);
  CHECK(o.function_error == "Unhandled");
  CHECK(o.payload == R"({"errorMessage":"Task timed out after 0.10 seconds","errorType":"Sandbox.Timedout"})");
  CHECK(o.duration_ms >= 250);
  auto logged = h.log.query({});
  REQUIRE(logged.size() == 1);
  CHECK(logged[0]->outcome.status == InvokeStatus::kFunctionError);
}

TEST_CASE("http: the wait for a concurrency slot counts toward neither the timeout nor the duration") {
  FakeFunctionServer server([](const FakeFunctionServer::Request& r) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return FakeFunctionServer::reply(200, r.body());
  });
  InvokerHarness h;
  h.put("fn", server.url(), 600, 1);
  std::vector<std::future<InvokeOutcome>> fs;
  for (int i = 0; i < 10; ++i) fs.push_back(h.start(InvokerHarness::arn("fn"), std::to_string(i)));
  for (auto& f : fs) {
    auto o = InvokerHarness::wait(f);
    CHECK(o.status == InvokeStatus::kSuccess);  // the last answers ~1 s after invoke()
    CHECK(o.duration_ms < 600);
  }
  CHECK(server.max_in_flight() == 1);
}

// The HttpClient on its own, for what needs a deadline shorter than timeout + 5 s or a look
// at the pool.
struct ClientHarness {
  ClientHarness() : thread([this] { ioc.run(); }) {}
  ~ClientHarness() {
    guard.reset();
    ioc.stop();
    thread.join();
  }
  HttpResult post(const std::string& url, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    auto p = std::make_shared<std::promise<HttpResult>>();
    auto f = p->get_future();
    client->post(*parse_http_url(url), {}, std::make_shared<const std::string>("{}"),
                 std::chrono::steady_clock::now() + deadline, [p](HttpResult r) { p->set_value(std::move(r)); });
    REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    return f.get();
  }
  boost::asio::io_context ioc;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard = boost::asio::make_work_guard(ioc);
  std::shared_ptr<HttpClient> client = std::make_shared<HttpClient>(ioc);
  std::thread thread;
};

TEST_CASE("http client: a response later than the deadline is a receive timeout") {
  Rendezvous r;
  FakeFunctionServer server([&r](const FakeFunctionServer::Request&) {
    r.wait_open();
    return FakeFunctionServer::reply(200, "{}");
  });
  ClientHarness c;
  auto res = c.post(server.url(), std::chrono::milliseconds(200));
  r.release();
  auto* f = std::get_if<HttpFailure>(&res);
  REQUIRE(f != nullptr);
  CHECK(f->stage == HttpStage::kReceive);
  CHECK(f->timed_out);
  CHECK(classify_http_failure(*f, 200).status == InvokeStatus::kFunctionError);
}

TEST_CASE("http client: a pooled connection closed by the server leaves the pool, and the next request opens a new one") {
  FakeFunctionServer server(echo());
  ClientHarness c;
  REQUIRE(std::holds_alternative<HttpResponse>(c.post(server.url())));
  CHECK(c.client->idle_connections() == 1);
  server.stop();  // closes the idle connection
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (c.client->idle_connections() != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(c.client->idle_connections() == 0);

  FakeFunctionServer again(echo());
  REQUIRE(std::holds_alternative<HttpResponse>(c.post(again.url())));
  REQUIRE(std::holds_alternative<HttpResponse>(c.post(again.url())));
  CHECK(c.client->connections_opened() == 2);
}

TEST_CASE("http client: a response over 6 MB is refused") {
  FakeFunctionServer server(answer(200, std::string(kMaxResponseBytes + 1, 'x')));
  ClientHarness c;
  auto res = c.post(server.url());
  auto* f = std::get_if<HttpFailure>(&res);
  REQUIRE(f != nullptr);
  CHECK(f->body_too_large);
}

TEST_CASE("http client: URLs") {
  auto u = parse_http_url("http://localhost:9000/2015-03-31/functions/function/invocations");
  REQUIRE(u);
  CHECK(u->host == "localhost");
  CHECK(u->port == "9000");
  CHECK(u->target == "/2015-03-31/functions/function/invocations");
  auto d = parse_http_url("http://example.com");
  REQUIRE(d);
  CHECK(d->port == "80");
  CHECK(d->target == "/");
  CHECK(parse_http_url("http://[::1]:8080/x")->host == "::1");
  CHECK(parse_http_url("http://h?x=1")->target == "/?x=1");
  CHECK_FALSE(parse_http_url("https://h/"));
  CHECK_FALSE(parse_http_url("http://:80/"));
  CHECK_FALSE(parse_http_url("http://h:port/"));
}

}  // namespace
}  // namespace esm::pollers
