// SqsPoller against the real queue engine on a `:memory:` database, with fake time and a
// scripted function (tests/pollers/poller_harness.h).

#include "pollers/sqs_poller.h"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>

#include "tests/pollers/poller_harness.h"

using namespace esm;
using namespace esm::testing;

namespace {

const std::string kUuid = "11111111-1111-4111-8111-111111111111";

struct SqsRecord {
  std::string message_id;
  std::string body;
};

std::vector<SqsRecord> records_of(const InvokeRequest& req) {
  rapidjson::Document d;
  d.Parse(req.payload.c_str());
  REQUIRE((d.IsObject() && d.HasMember("Records") && d["Records"].IsArray()));
  std::vector<SqsRecord> out;
  for (const auto& r : d["Records"].GetArray()) out.push_back({r["messageId"].GetString(), r["body"].GetString()});
  return out;
}

std::vector<std::size_t> batch_sizes(const FakeInvoker& invoker) {
  std::vector<std::size_t> out;
  for (const auto& e : invoker.events()) out.push_back(records_of(e).size());
  return out;
}

}  // namespace

TEST_CASE("the SQS poller invokes with at most BatchSize messages") {
  PollerHarness h;
  const std::string q = h.make_queue("orders");
  for (int i = 0; i < 5; ++i) h.send(q, "m" + std::to_string(i));
  Mapping m = h.mapping(SourceKind::kSqs, q, kUuid);
  m.batch_size = 2;
  auto poller = h.start(m);
  auto sizes = batch_sizes(h.invoker);
  std::size_t total = 0;
  for (auto n : sizes) {
    CHECK(n <= 2);
    total += n;
  }
  CHECK(total == 5);
  CHECK(h.queue_depth(q) == 0);
  h.stop(*poller);
}

TEST_CASE("a batching window holds an underfilled batch until the window ends") {
  PollerHarness h;
  const std::string q = h.make_queue("orders");
  Mapping m = h.mapping(SourceKind::kSqs, q, kUuid);
  m.batching_window_s = 5;
  auto poller = h.start(m);
  for (int i = 0; i < 3; ++i) h.send(q, "m" + std::to_string(i));
  h.settle();
  CHECK(h.invoker.calls() == 0);
  h.advance(4999);
  CHECK(h.invoker.calls() == 0);
  h.advance(1);
  REQUIRE(h.invoker.calls() == 1);
  CHECK(records_of(h.invoker.events()[0]).size() == 3);
  h.stop(*poller);
}

TEST_CASE("a partial batch response deletes only the messages that succeeded") {
  PollerHarness h;
  const std::string q = h.make_queue("orders");
  for (const char* body : {"a", "b", "c"}) h.send(q, body);
  h.invoker.respond_with([](const InvokeRequest& req) {
    std::vector<std::string> failed;
    for (const auto& r : records_of(req))
      if (r.body == "b") failed.push_back(r.message_id);
    return Answer::partial(failed);
  });
  Mapping m = h.mapping(SourceKind::kSqs, q, kUuid);
  m.report_batch_item_failures = true;
  auto poller = h.start(m);
  REQUIRE(h.invoker.calls() == 1);
  CHECK(h.queue_bodies(q) == std::vector<std::string>{"b"});
  h.stop(*poller);
}

TEST_CASE("a function error leaves the messages in the queue until their visibility timeout") {
  PollerHarness h;
  const std::string q = h.make_queue("orders", {{"VisibilityTimeout", "30"}});
  h.send(q, "a");
  h.send(q, "b");
  h.invoker.script(Answer::function_error());
  auto poller = h.start(h.mapping(SourceKind::kSqs, q, kUuid));
  REQUIRE(h.invoker.calls() == 1);
  CHECK(h.queue_depth(q) == 2);
  h.advance(29'000);
  CHECK(h.invoker.calls() == 1);
  h.advance(1'000);
  REQUIRE(h.invoker.calls() == 2);
  CHECK(records_of(h.invoker.events()[1]).size() == 2);
  CHECK(h.queue_depth(q) == 0);
  h.stop(*poller);
}

TEST_CASE("an invoke error leaves the messages in the queue") {
  PollerHarness h;
  const std::string q = h.make_queue("orders");
  h.send(q, "a");
  h.invoker.script(Answer::invoke_error());
  auto poller = h.start(h.mapping(SourceKind::kSqs, q, kUuid));
  REQUIRE(h.invoker.calls() == 1);
  CHECK(h.queue_depth(q) == 1);
  h.stop(*poller);
}

TEST_CASE("disabling the mapping stops receiving and lets the invocation in flight finish") {
  PollerHarness h;
  const std::string q = h.make_queue("orders");
  h.send(q, "a");
  h.invoker.script(Answer::success().held());
  Mapping m = h.mapping(SourceKind::kSqs, q, kUuid);
  auto poller = h.start(m);
  REQUIRE(h.invoker.held() == 1);
  m.state = MappingState::kDisabled;
  poller->update(m);
  h.settle();
  h.invoker.release();
  h.settle();
  CHECK(h.queue_depth(q) == 0);  // the batch in flight finished and was deleted
  h.send(q, "b");
  h.advance(60'000);
  CHECK(h.invoker.calls() == 1);
  CHECK(h.queue_depth(q) == 1);
  m.state = MappingState::kEnabled;
  poller->update(m);
  h.settle();
  CHECK(h.invoker.calls() == 2);
  CHECK(h.queue_depth(q) == 0);
  h.stop(*poller);
}

TEST_CASE("Updating keeps polling with the old configuration until the state settles") {
  PollerHarness h;
  h.functions.put(FunctionSpec{"fn2", "http://127.0.0.1:9/fn2", 3000, 10});
  const std::string q = h.make_queue("orders");
  Mapping m = h.mapping(SourceKind::kSqs, q, kUuid);
  auto poller = h.start(m);
  Mapping changed = m;
  changed.function_arn = std::string("arn:aws:lambda:") + kRegion + ":" + kAccount + ":function:fn2";
  changed.state = MappingState::kUpdating;
  changed.settle_to = MappingState::kEnabled;
  poller->update(changed);
  h.settle();
  h.send(q, "during");
  h.settle();
  REQUIRE(h.invoker.calls() == 1);
  CHECK(h.invoker.events()[0].function_arn == m.function_arn);
  changed.state = MappingState::kEnabled;
  changed.settle_to.reset();
  poller->update(changed);
  h.settle();
  h.send(q, "after");
  h.settle();
  REQUIRE(h.invoker.calls() == 2);
  CHECK(h.invoker.events()[1].function_arn == changed.function_arn);
  h.stop(*poller);
}

TEST_CASE("stop completes only once the invocation in flight answered") {
  PollerHarness h;
  const std::string q = h.make_queue("orders");
  h.send(q, "a");
  h.invoker.script(Answer::success().held());
  auto poller = h.start(h.mapping(SourceKind::kSqs, q, kUuid));
  REQUIRE(h.invoker.held() == 1);
  auto stopped = h.stop(*poller);
  CHECK_FALSE(*stopped);
  h.invoker.release();
  h.settle();
  CHECK(*stopped);
  CHECK(h.queue_depth(q) == 0);
}

TEST_CASE("a message that matches no filter is deleted without an invocation") {
  PollerHarness h;
  const std::string q = h.make_queue("orders");
  h.send(q, R"({"kind":"keep"})");
  h.send(q, R"({"kind":"drop"})");
  Mapping m = h.mapping(SourceKind::kSqs, q, kUuid);
  m.filter_patterns = {R"({"body":{"kind":["keep"]}})"};
  auto poller = h.start(m);
  REQUIRE(h.invoker.calls() == 1);
  auto recs = records_of(h.invoker.events()[0]);
  REQUIRE(recs.size() == 1);
  CHECK(recs[0].body == R"({"kind":"keep"})");
  CHECK(h.queue_depth(q) == 0);
  h.stop(*poller);
}

TEST_CASE("an SQS event names the queue's region whatever region the mapping row holds") {
  PollerHarness h;
  const std::string q = h.make_queue("orders");
  h.send(q, "m");
  Mapping m = h.mapping(SourceKind::kSqs, q, kUuid);
  m.region = "eu-west-1";  // a row written before Create refused a source in another region
  auto poller = h.start(m);
  REQUIRE(h.invoker.events().size() == 1);
  rapidjson::Document d;
  d.Parse(h.invoker.events()[0].payload.c_str());
  REQUIRE(d.IsObject());
  const auto& record = d["Records"][0];
  CHECK(std::string(record["awsRegion"].GetString()) == kRegion);
  CHECK(std::string(record["eventSourceARN"].GetString()) == q);
  h.stop(*poller);
}
