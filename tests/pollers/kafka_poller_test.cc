// The Kafka poller (pollers/kafka_poller.h) over a scripted cluster (tests/fakes/
// fake_kafka_consumer.h), with fake time and a scripted function (tests/pollers/poller_harness.h).

#include "pollers/kafka_poller.h"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "core/codec.h"
#include "storage/mapping_store.h"
#include "tests/fakes/fake_kafka_consumer.h"
#include "tests/pollers/poller_harness.h"

using namespace esm;
using namespace esm::testing;

namespace {

const std::string kUuid = "33333333-3333-4333-8333-333333333333";
const std::string kCluster = "arn:aws:kafka:us-east-1:123456789012:cluster/demo/7c9e6679-7425-40de-944b-e07fc1f90ae7-2";

struct KafkaWorld {
  PollerHarness h;
  std::shared_ptr<FakeKafkaCluster> cluster = std::make_shared<FakeKafkaCluster>();

  KafkaWorld() {
    pollers::register_kafka_poller(
        h.registry, [](const Mapping&) { return pollers::KafkaCluster{"broker-1:9092", "group-1"}; },
        cluster->factory());
  }
  Mapping mapping(int batch_size = 10, std::optional<int> window_s = 0) {
    Mapping m = h.mapping(SourceKind::kMsk, kCluster, kUuid);
    m.topics = {"orders"};
    m.batch_size = batch_size;
    m.batching_window_s = window_s;
    m.starting_position = "TRIM_HORIZON";
    return m;
  }
  // Stops the poller and waits (bounded) for its consumer to close off the strand.
  bool stop(pollers::Poller& p) {
    auto stopped = h.stop(p);
    for (int i = 0; i < 500 && !*stopped; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      h.settle();
    }
    return *stopped;
  }
  std::string result() {
    return h.db([](storage::Connection& c) -> std::string {
      auto m = storage::get_mapping(c, kUuid);
      return m && m->last_processing_result ? *m->last_processing_result : "";
    });
  }
};

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  REQUIRE(d.IsObject());
  return d;
}

// "partition-key:value" for each record of the event, in the event's order.
std::vector<std::string> records_of(const InvokeRequest& req) {
  auto d = parse(req.payload);
  std::vector<std::string> out;
  for (const auto& p : d["records"].GetObject())
    for (const auto& r : p.value.GetArray())
      out.push_back(std::string(p.name.GetString()) + ":" + base64_decode(r["value"].GetString()).value_or("?"));
  return out;
}

std::vector<std::string> all_records(const FakeInvoker& inv) {
  std::vector<std::string> out;
  for (const auto& e : inv.events())
    for (auto& r : records_of(e)) out.push_back(r);
  return out;
}

}  // namespace

TEST_CASE("the Kafka poller delivers BatchSize records a time, grouped by partition, and commits after success") {
  KafkaWorld w;
  for (int i = 0; i < 4; ++i) w.cluster->produce("orders", i % 2, "v" + std::to_string(i));
  auto p = w.h.start(w.mapping(3));
  REQUIRE(w.h.invoker.calls() == 2);
  auto events = w.h.invoker.events();
  // Partition 0 holds v0 and v2, partition 1 v1 and v3; the fake reads partition 0 first.
  CHECK(records_of(events[0]) == std::vector<std::string>{"orders-0:v0", "orders-0:v2", "orders-1:v1"});
  CHECK(records_of(events[1]) == std::vector<std::string>{"orders-1:v3"});
  auto d = parse(events[0].payload);
  CHECK(std::string(d["eventSource"].GetString()) == "aws:kafka");
  CHECK(std::string(d["eventSourceArn"].GetString()) == kCluster);
  CHECK(std::string(d["bootstrapServers"].GetString()) == "broker-1:9092");
  CHECK(w.cluster->committed("orders", 0) == 2);
  CHECK(w.cluster->committed("orders", 1) == 2);
  CHECK(w.cluster->last_config()->group_id == "group-1");
  CHECK(w.cluster->last_config()->topic == "orders");
  CHECK(w.result() == "OK");
  CHECK(w.stop(*p));
  CHECK(w.cluster->closed() == 1);
}

TEST_CASE("the default Kafka batching window is 500 ms from the first record") {
  KafkaWorld w;
  auto p = w.h.start(w.mapping(10, std::nullopt));
  w.cluster->produce("orders", 0, "a");
  w.h.settle();
  w.h.advance(300);
  w.cluster->produce("orders", 0, "b");
  w.h.settle();
  w.h.advance(199);
  CHECK(w.h.invoker.calls() == 0);
  w.h.advance(1);
  REQUIRE(w.h.invoker.calls() == 1);
  CHECK(records_of(w.h.invoker.events()[0]) == std::vector<std::string>{"orders-0:a", "orders-0:b"});
  // A batch that fills before the window goes at once.
  Mapping m = w.mapping(2, std::nullopt);
  p->update(m);
  w.h.settle();
  w.cluster->produce("orders", 0, "c");
  w.cluster->produce("orders", 0, "d");
  w.h.settle();
  CHECK(w.h.invoker.calls() == 2);
  CHECK(w.stop(*p));
}

TEST_CASE("a failing Kafka batch is retried until it succeeds, and nothing overtakes it") {
  KafkaWorld w;
  w.h.invoker.script(Answer::function_error());
  w.h.invoker.script(Answer::function_error());
  w.cluster->produce("orders", 0, "a");
  w.cluster->produce("orders", 0, "b");
  auto p = w.h.start(w.mapping(2));
  w.cluster->produce("orders", 0, "c");
  w.h.settle();
  CHECK(w.h.invoker.calls() == 1);
  CHECK(w.cluster->committed("orders", 0) < 1);
  CHECK(w.result() == "PROBLEM: Function call failed");
  for (int i = 0; i < 100 && w.h.invoker.calls() < 4; ++i) w.h.advance(250);
  auto events = w.h.invoker.events();
  REQUIRE(events.size() >= 4);
  for (int i = 0; i < 3; ++i) CHECK(records_of(events[i]) == std::vector<std::string>{"orders-0:a", "orders-0:b"});
  CHECK(records_of(events[3]) == std::vector<std::string>{"orders-0:c"});
  CHECK(w.cluster->committed("orders", 0) == 3);
  CHECK(w.result() == "OK");
  CHECK(w.stop(*p));
}

TEST_CASE("MaximumRetryAttempts with bisect isolates a poison Kafka record and moves on") {
  KafkaWorld w;
  w.h.invoker.respond_with([](const InvokeRequest& req) {
    return req.payload.find(base64_encode("poison")) != std::string::npos ? Answer::function_error() : Answer::success();
  });
  for (auto v : {"a", "b", "poison", "d"}) w.cluster->produce("orders", 0, v);
  Mapping m = w.mapping(4);
  m.maximum_retry_attempts = 0;
  m.bisect_on_error = true;
  auto p = w.h.start(m);
  for (int i = 0; i < 100 && w.cluster->committed("orders", 0) < 4; ++i) w.h.advance(250);
  CHECK(w.cluster->committed("orders", 0) == 4);
  std::vector<std::string> ok;
  for (const auto& e : w.h.invoker.events())
    if (e.payload.find(base64_encode("poison")) == std::string::npos)
      for (auto& r : records_of(e)) ok.push_back(r);
  CHECK(ok == std::vector<std::string>{"orders-0:a", "orders-0:b", "orders-0:d"});
  CHECK(w.stop(*p));
}

TEST_CASE("a Kafka partial batch response retries from the lowest record it names") {
  KafkaWorld w;
  w.h.invoker.script(Answer::success(
      R"({"batchItemFailures":[{"itemIdentifier":{"partition":"orders-0","offset":2}},)"
      R"({"itemIdentifier":{"partition":"orders-0","offset":3}}]})"));
  for (auto v : {"a", "b", "c", "d"}) w.cluster->produce("orders", 0, v);
  Mapping m = w.mapping(4);
  m.report_batch_item_failures = true;
  auto p = w.h.start(m);
  for (int i = 0; i < 40 && w.h.invoker.calls() < 2; ++i) w.h.advance(250);
  auto events = w.h.invoker.events();
  REQUIRE(events.size() == 2);
  CHECK(records_of(events[1]) == std::vector<std::string>{"orders-0:c", "orders-0:d"});
  CHECK(w.cluster->committed("orders", 0) == 4);
  CHECK(w.stop(*p));
}

TEST_CASE("a Kafka partial batch response naming no record of the batch fails it whole") {
  auto with = [](std::string body) {
    InvokeOutcome o;
    o.status = InvokeStatus::kSuccess;
    o.http_status = 200;
    o.payload = std::move(body);
    return o;
  };
  const std::vector<pollers::KafkaItemId> ids{{"t-0", 5}, {"t-0", 6}, {"t-1", 2}};
  using pollers::Verdict;
  auto judge = [&](const std::string& body) { return pollers::judge_kafka_batch(with(body), true, ids, 0, 3); };
  CHECK(judge("").verdict == Verdict::kSuccess);
  CHECK(judge(R"({"batchItemFailures":[]})").verdict == Verdict::kSuccess);
  CHECK(judge(R"({"batchItemFailures":[{"itemIdentifier":{"partition":"t-1","offset":2}}]})").failed_from == 2);
  CHECK(judge(R"({"batchItemFailures":[{"itemIdentifier":{"partition":"t-1","offset":3}}]})").verdict ==
        Verdict::kFailure);
  CHECK(judge(R"({"batchItemFailures":[{"itemIdentifier":"t-0-5"}]})").verdict == Verdict::kFailure);
  CHECK(judge(R"({"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":"5"}}]})").verdict ==
        Verdict::kFailure);
  CHECK(pollers::judge_kafka_batch(with(R"({"batchItemFailures":[{}]})"), false, ids, 0, 3).verdict ==
        Verdict::kSuccess);
}

TEST_CASE("Kafka records that match no filter never reach the function and are committed") {
  KafkaWorld w;
  Mapping m = w.mapping(10);
  m.filter_patterns = {R"({"value":{"kind":["keep"]}})"};
  w.cluster->produce("orders", 0, R"({"kind":"drop"})");
  w.cluster->produce("orders", 0, R"({"kind":"drop"})");
  auto p = w.h.start(m);
  CHECK(w.h.invoker.calls() == 0);
  CHECK(w.cluster->committed("orders", 0) == 2);
  w.cluster->produce("orders", 0, R"({"kind":"keep"})");
  w.cluster->produce("orders", 0, R"({"kind":"drop"})");
  w.h.settle();
  REQUIRE(w.h.invoker.calls() == 1);
  CHECK(all_records(w.h.invoker) == std::vector<std::string>{R"(orders-0:{"kind":"keep"})"});
  CHECK(w.cluster->committed("orders", 0) == 4);
  CHECK(w.stop(*p));
}

TEST_CASE("disabling a Kafka mapping drops what was not sent; enabling reads it again") {
  KafkaWorld w;
  w.h.invoker.script(Answer::success().held());
  for (auto v : {"a", "b", "c"}) w.cluster->produce("orders", 0, v);
  Mapping m = w.mapping(1);
  auto p = w.h.start(m);
  REQUIRE(w.h.invoker.calls() == 1);  // "a" in flight, "b" and "c" waiting
  m.state = MappingState::kDisabled;
  p->update(m);
  w.h.settle();
  w.h.invoker.release();
  w.h.settle();
  for (int i = 0; i < 500 && w.cluster->closed() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    w.h.settle();
  }
  CHECK(w.cluster->closed() == 1);
  CHECK(w.cluster->committed("orders", 0) == 1);  // "a" answered, then committed
  CHECK(w.h.invoker.calls() == 1);
  m.state = MappingState::kEnabled;
  p->update(m);
  w.h.settle();
  CHECK(w.cluster->opened() == 2);
  CHECK(all_records(w.h.invoker) == std::vector<std::string>{"orders-0:a", "orders-0:b", "orders-0:c"});
  CHECK(w.cluster->committed("orders", 0) == 3);
  CHECK(w.stop(*p));
}

TEST_CASE("a Kafka cluster that cannot be reached shows in LastProcessingResult") {
  KafkaWorld w;
  auto p = w.h.start(w.mapping());
  const std::string problem = "PROBLEM: Connection error. Please check your event source connection configuration.";
  w.cluster->set_problem(problem);
  w.h.settle();
  CHECK(w.result() == problem);
  w.cluster->set_problem(std::nullopt);
  w.cluster->produce("orders", 0, "a");
  w.h.settle();
  CHECK(w.result() == "OK");
  CHECK(w.stop(*p));
}

TEST_CASE("records of a revoked Kafka partition that were not sent are dropped") {
  KafkaWorld w;
  auto p = w.h.start(w.mapping(10, 5));
  w.cluster->produce("orders", 0, "a");
  w.cluster->produce("orders", 1, "b");
  w.h.settle();
  w.cluster->revoke("orders", 0);
  w.cluster->produce("orders", 1, "c");
  w.h.settle();
  w.h.advance(5000);
  CHECK(all_records(w.h.invoker) == std::vector<std::string>{"orders-1:b", "orders-1:c"});
  CHECK(w.stop(*p));
}

TEST_CASE("the Kafka event: self-managed has no eventSourceArn; keys and values absent when null") {
  pollers::KafkaMessage m;
  m.topic = "t";
  m.partition = 3;
  m.offset = 7;
  m.timestamp_ms = 1732900800123;
  m.log_append_time = true;
  m.headers = {{"h", std::string("\x61\xc3\xab", 3)}, {"n", std::nullopt}};
  const std::string rec = pollers::kafka_record_json(m);
  CHECK(rec ==
        R"({"topic":"t","partition":3,"offset":7,"timestamp":1732900800123,"timestampType":"LOG_APPEND_TIME",)"
        R"("headers":[{"h":[97,-61,-85]},{"n":[]}]})");
  pollers::KafkaEventSource src{false, "", "k1:9092,k2:9092"};
  const std::string event = pollers::kafka_event_json(src, {{"t-3", {rec, rec}}});
  CHECK(event == R"({"eventSource":"SelfManagedKafka","bootstrapServers":"k1:9092,k2:9092","records":{"t-3":[)" + rec +
                     "," + rec + "]}}");
  CHECK(event.size() <= pollers::kafka_event_base_size(src) + pollers::kafka_partition_overhead("t-3") +
                            2 * rec.size() + 1);
}

TEST_CASE("given-up Kafka records go to an SQS on-failure queue with the Kafka failure record") {
  KafkaWorld w;
  const std::string dlq = w.h.make_queue("kafka-failures");
  w.h.invoker.respond_with([](const InvokeRequest&) { return Answer::function_error(); });
  w.cluster->produce("orders", 0, "a", std::string("k-a"), 1'732'900'798'123);
  w.cluster->produce("orders", 1, "b", std::nullopt, 1'732'900'798'560);
  Mapping m = w.mapping(10);
  m.destinations = Destinations{std::nullopt, dlq};  // no MaximumRetryAttempts: capped at 10
  auto p = w.h.start(m);
  for (int i = 0; i < 1000 && w.cluster->committed("orders", 1) < 1; ++i) w.h.advance(500);
  CHECK(w.h.invoker.calls() == 11);
  auto bodies = w.h.queue_bodies(dlq);
  REQUIRE(bodies.size() == 1);
  auto d = parse(bodies[0]);
  CHECK(std::string(d["requestContext"]["condition"].GetString()) == "RetryAttemptsExhausted");
  CHECK(d["requestContext"]["approximateInvokeCount"].GetInt() == 11);
  CHECK(std::string(d["responseContext"]["functionError"].GetString()) == "Unhandled");
  const auto& info = d["KafkaBatchInfo"];
  CHECK(info["batchSize"].GetInt() == 2);
  CHECK(std::string(info["eventSourceArn"].GetString()) == kCluster);
  CHECK(std::string(info["bootstrapServers"].GetString()) == "broker-1:9092");
  CHECK(info["payloadSize"].GetInt() > 0);
  CHECK(std::string(info["recordsInfo"]["orders-0"]["firstRecordOffset"].GetString()) == "0");
  CHECK(std::string(info["recordsInfo"]["orders-0"]["firstRecordTimestamp"].GetString()) ==
        "2024-11-29T17:19:58.123Z");
  CHECK(std::string(info["recordsInfo"]["orders-1"]["lastRecordOffset"].GetString()) == "0");
  CHECK(!d.HasMember("payload"));
  CHECK(w.cluster->committed("orders", 0) == 1);
  CHECK(w.stop(*p));
}

TEST_CASE("a kafka:// destination gets one message per given-up record, keyed by its key, once acknowledged") {
  KafkaWorld w;
  w.h.invoker.respond_with([](const InvokeRequest&) { return Answer::function_error(); });
  w.cluster->produce("orders", 0, "a", std::string("k-a"));
  w.cluster->produce("orders", 0, "b");
  w.cluster->refuse_sends(true);
  Mapping m = w.mapping(10);
  m.maximum_retry_attempts = 0;
  m.destinations = Destinations{std::nullopt, "kafka://orders-dlt"};
  auto p = w.h.start(m);
  // Refused: the records are not committed past, and the delivery is tried again.
  w.h.advance(2500);
  CHECK(w.cluster->committed("orders", 0) < 2);
  CHECK(w.cluster->sent().size() >= 4);
  w.cluster->refuse_sends(false);
  for (int i = 0; i < 20 && w.cluster->committed("orders", 0) < 2; ++i) w.h.advance(500);
  CHECK(w.cluster->committed("orders", 0) == 2);
  auto sent = w.cluster->sent();
  REQUIRE(sent.size() >= 2);
  const auto& first = sent[sent.size() - 2];
  CHECK(first.topic == "orders-dlt");
  CHECK(first.key == std::optional<std::string>("k-a"));
  auto d = parse(*first.value);
  CHECK(std::string(d["requestContext"]["condition"].GetString()) == "RetriesExhausted");
  CHECK(std::string(d["KafkaBatchInfo"]["recordInfo"]["offset"].GetString()) == "0");
  CHECK(d["payload"].IsObject());
  CHECK(d["payload"]["records"]["orders-0"].Size() == 1);
  CHECK(!sent.back().key);
  CHECK(w.stop(*p));
}

TEST_CASE("a Kafka record no event can carry is skipped and committed with its neighbours") {
  KafkaWorld w;
  w.cluster->produce("orders", 0, "a");
  w.cluster->produce("orders", 0, std::string(6 * 1024 * 1024, 'x'));
  w.cluster->produce("orders", 0, "c");
  auto p = w.h.start(w.mapping(10));
  CHECK(all_records(w.h.invoker) == std::vector<std::string>{"orders-0:a", "orders-0:c"});
  CHECK(w.cluster->committed("orders", 0) == 3);
  CHECK(w.stop(*p));
}
