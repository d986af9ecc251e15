// The Kinesis poller (PartitionPipeline over KinesisPartitionSource) against the real stream and
// queue engines on a `:memory:` database, with fake time and a scripted function
// (tests/pollers/poller_harness.h).

#include "pollers/kinesis_poller.h"

#include <rapidjson/document.h>

#include <catch2/catch.hpp>

#include "core/codec.h"
#include "storage/checkpoint_store.h"
#include "tests/pollers/poller_harness.h"

using namespace esm;
using namespace esm::testing;

namespace {

const std::string kUuid = "22222222-2222-4222-8222-222222222222";

struct KRecord {
  std::string data;
  std::string seq;
  std::string key;
};

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  REQUIRE(d.IsObject());
  return d;
}

std::vector<KRecord> records_of(const InvokeRequest& req) {
  auto d = parse(req.payload);
  REQUIRE((d.HasMember("Records") && d["Records"].IsArray()));
  std::vector<KRecord> out;
  for (const auto& r : d["Records"].GetArray()) {
    const auto& k = r["kinesis"];
    out.push_back({base64_decode(k["data"].GetString()).value_or("?"), k["sequenceNumber"].GetString(),
                   k["partitionKey"].GetString()});
  }
  return out;
}

std::vector<std::string> datas(const InvokeRequest& req) {
  std::vector<std::string> out;
  for (auto& r : records_of(req)) out.push_back(r.data);
  return out;
}

// Advances time in steps of step_ms until `until_ms` passed, so every backoff fires at its time.
void run_for(PollerHarness& h, std::int64_t until_ms, std::int64_t step_ms = 100) {
  for (std::int64_t t = 0; t < until_ms; t += step_ms) h.advance(step_ms);
}

}  // namespace

TEST_CASE("the Kinesis poller delivers a shard's records in order, BatchSize at a time") {
  PollerHarness h;
  const std::string s = h.make_stream("clicks", 1);
  for (int i = 0; i < 7; ++i) h.put(s, "key-" + std::to_string(i % 3), "r" + std::to_string(i));
  Mapping m = h.mapping(SourceKind::kKinesis, s, kUuid);
  m.batch_size = 3;
  auto poller = h.start(m);
  std::vector<std::string> seen;
  for (const auto& e : h.invoker.events()) {
    auto d = datas(e);
    CHECK(d.size() <= 3);
    seen.insert(seen.end(), d.begin(), d.end());
  }
  CHECK(seen == std::vector<std::string>{"r0", "r1", "r2", "r3", "r4", "r5", "r6"});
  h.stop(*poller);
}

TEST_CASE("a failing batch is retried, then given up to the SQS on-failure queue") {
  PollerHarness h;
  const std::string s = h.make_stream("clicks", 1);
  const std::string dlq = h.make_queue("failures");
  h.put(s, "k", "bad");
  h.put(s, "k", "bad2");
  h.invoker.respond_with([](const InvokeRequest&) { return Answer::function_error(); });
  Mapping m = h.mapping(SourceKind::kKinesis, s, kUuid);
  m.maximum_retry_attempts = 2;
  m.destinations = Destinations{std::nullopt, dlq};
  auto poller = h.start(m);
  run_for(h, 5'000);
  CHECK(h.invoker.calls() == 3);  // the first try and two retries
  auto bodies = h.queue_bodies(dlq);
  REQUIRE(bodies.size() == 1);
  auto f = parse(bodies[0]);
  CHECK(std::string(f["requestContext"]["condition"].GetString()) == "RetryAttemptsExhausted");
  CHECK(f["requestContext"]["approximateInvokeCount"].GetInt() == 3);
  CHECK(f["KinesisBatchInfo"]["batchSize"].GetInt() == 2);
  // Given up and reported: the checkpoint moved past both records.
  auto cps = h.db([&](storage::Connection& c) { return storage::load_checkpoints(c, kUuid, s); });
  REQUIRE(cps.is_ok());
  REQUIRE(cps->size() == 1);
  CHECK((*cps)[0].position == 2);
  h.stop(*poller);
}

TEST_CASE("bisect on error splits a failing batch in halves until the bad record is alone") {
  PollerHarness h;
  const std::string s = h.make_stream("clicks", 1);
  for (const char* d : {"a", "b", "c", "bad"}) h.put(s, "k", d);
  h.invoker.respond_with([](const InvokeRequest& req) {
    for (auto& d : datas(req))
      if (d == "bad") return Answer::function_error();
    return Answer::success();
  });
  Mapping m = h.mapping(SourceKind::kKinesis, s, kUuid);
  m.bisect_on_error = true;
  m.maximum_retry_attempts = 0;
  auto poller = h.start(m);
  run_for(h, 2'000);
  std::vector<std::vector<std::string>> batches;
  for (const auto& e : h.invoker.events()) batches.push_back(datas(e));
  REQUIRE(batches.size() >= 4);
  CHECK(batches[0] == std::vector<std::string>{"a", "b", "c", "bad"});
  CHECK(batches[1] == std::vector<std::string>{"a", "b"});
  CHECK(batches[2] == std::vector<std::string>{"c", "bad"});
  CHECK(batches[3] == std::vector<std::string>{"c"});
  CHECK(batches.back() == std::vector<std::string>{"bad"});
  h.stop(*poller);
}

TEST_CASE("a record past MaximumRecordAgeInSeconds is given up after its last try in time") {
  PollerHarness h;
  const std::string s = h.make_stream("clicks", 1);
  const std::string dlq = h.make_queue("failures");
  h.put(s, "k", "stuck");
  h.invoker.respond_with([](const InvokeRequest&) { return Answer::function_error(); });
  Mapping m = h.mapping(SourceKind::kKinesis, s, kUuid);
  m.maximum_record_age_s = 60;
  m.maximum_retry_attempts = -1;
  m.destinations = Destinations{std::nullopt, dlq};
  auto poller = h.start(m);
  run_for(h, 59'000, 500);
  CHECK(h.queue_bodies(dlq).empty());
  run_for(h, 4'000, 500);
  // Tries at 0, 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s; the next one, at 61.5 s, is past 60 s.
  CHECK(h.invoker.calls() == 7);
  auto bodies = h.queue_bodies(dlq);
  REQUIRE(bodies.size() == 1);
  auto f = parse(bodies[0]);
  CHECK(std::string(f["requestContext"]["condition"].GetString()) == "RecordAgeExceeded");
  CHECK(f["requestContext"]["approximateInvokeCount"].GetInt() == 7);
  CHECK_FALSE(f.HasMember("responseContext"));
  h.stop(*poller);
}

TEST_CASE("a record already too old when read is given up without an invocation") {
  PollerHarness h;
  const std::string s = h.make_stream("clicks", 1);
  const std::string dlq = h.make_queue("failures");
  h.put(s, "k", "old");
  h.advance(61'500);
  h.put(s, "k", "young");
  Mapping m = h.mapping(SourceKind::kKinesis, s, kUuid);
  m.maximum_record_age_s = 60;
  m.destinations = Destinations{std::nullopt, dlq};
  auto poller = h.start(m);
  REQUIRE(h.invoker.calls() == 1);
  CHECK(datas(h.invoker.events()[0]) == std::vector<std::string>{"young"});
  auto bodies = h.queue_bodies(dlq);
  REQUIRE(bodies.size() == 1);
  auto f = parse(bodies[0]);
  CHECK(std::string(f["requestContext"]["condition"].GetString()) == "RecordAgeExceeded");
  CHECK(f["KinesisBatchInfo"]["batchSize"].GetInt() == 1);
  h.stop(*poller);
}

TEST_CASE("a partial response moves the checkpoint to the first failed record") {
  PollerHarness h;
  const std::string s = h.make_stream("clicks", 1);
  for (const char* d : {"a", "b", "c"}) h.put(s, "k", d);
  // The first call reports "b"; the retry of [b, c] is held, so the checkpoint is observed
  // between the two.
  h.invoker.respond_with([](const InvokeRequest& req) {
    for (auto& r : records_of(req))
      if (r.data == "b") return Answer::partial({r.seq});
    return Answer::success();
  });
  Mapping m = h.mapping(SourceKind::kKinesis, s, kUuid);
  m.report_batch_item_failures = true;
  m.maximum_retry_attempts = 1;
  auto poller = h.start(m);
  REQUIRE(h.invoker.calls() >= 1);
  CHECK(datas(h.invoker.events()[0]) == std::vector<std::string>{"a", "b", "c"});
  h.invoker.respond_with([](const InvokeRequest&) { return Answer::success().held(); });
  run_for(h, 1'000);
  REQUIRE(h.invoker.calls() == 2);
  CHECK(datas(h.invoker.events()[1]) == std::vector<std::string>{"b", "c"});
  auto cps = h.db([&](storage::Connection& c) { return storage::load_checkpoints(c, kUuid, s); });
  REQUIRE((cps.is_ok() && cps->size() == 1));
  CHECK((*cps)[0].position == 1);  // "a" is done, "b" is next
  h.invoker.release();
  h.settle();
  cps = h.db([&](storage::Connection& c) { return storage::load_checkpoints(c, kUuid, s); });
  CHECK((*cps)[0].position == 3);
  h.stop(*poller);
}

TEST_CASE("ParallelizationFactor runs one batch per lane at once, each key in order") {
  PollerHarness h;
  const std::string s = h.make_stream("clicks", 1);
  for (int i = 0; i < 40; ++i) h.put(s, "key-" + std::to_string(i % 8), std::to_string(i));
  h.invoker.respond_with([](const InvokeRequest&) { return Answer::success().held(); });
  Mapping m = h.mapping(SourceKind::kKinesis, s, kUuid);
  m.parallelization_factor = 4;
  m.batch_size = 100;
  auto poller = h.start(m);
  CHECK(h.invoker.held() > 1);
  CHECK(h.invoker.held() <= 4);
  std::map<std::string, int> last;
  std::size_t total = 0;
  for (int round = 0; round < 10 && total < 40; ++round) {
    h.invoker.release();
    h.settle();
    total = 0;
    for (const auto& e : h.invoker.events()) total += records_of(e).size();
  }
  CHECK(total == 40);
  for (const auto& e : h.invoker.events())
    for (auto& r : records_of(e)) {
      const int n = std::stoi(r.data);
      CHECK(last[r.key] <= n);
      last[r.key] = n;
    }
  h.stop(*poller);
}

TEST_CASE("a tumbling window carries the state of one response to the next call of the window") {
  PollerHarness h;
  const std::string s = h.make_stream("clicks", 1);
  Mapping m = h.mapping(SourceKind::kKinesis, s, kUuid);
  m.tumbling_window_s = 30;
  m.batch_size = 1;
  h.invoker.respond_with([](const InvokeRequest& req) {
    auto d = parse(req.payload);
    int n = 0;
    if (d.HasMember("state") && d["state"].IsObject() && d["state"].HasMember("n")) n = d["state"]["n"].GetInt();
    return Answer::success(R"({"state":{"n":)" + std::to_string(n + 1) + "}}");
  });
  // Start just after a window boundary so that both records fall in the same window.
  h.sched.advance_ms(30'000 - h.sched.now_ms() % 30'000 + 10);
  h.put(s, "k", "x");
  h.put(s, "k", "y");
  auto poller = h.start(m);
  run_for(h, 1'000);
  REQUIRE(h.invoker.calls() >= 2);
  auto second = parse(h.invoker.events()[1].payload);
  REQUIRE(second.HasMember("state"));
  CHECK(second["state"]["n"].GetInt() == 1);
  run_for(h, 31'000, 1'000);
  // The window ended: a final call carries the state of the window's last response.
  const auto events = h.invoker.events();
  auto last = parse(events.back().payload);
  CHECK(last["isFinalInvokeForWindow"].GetBool());
  CHECK(last["state"]["n"].GetInt() == 2);
  h.stop(*poller);
}

TEST_CASE("a failure record that cannot be committed keeps the checkpoint below its records") {
  PollerHarness h;
  const std::string s = h.make_stream("clicks", 1);
  const std::string dlq = h.make_queue("failures");
  h.put(s, "k", "bad");
  h.invoker.respond_with([](const InvokeRequest&) { return Answer::function_error(); });
  Mapping m = h.mapping(SourceKind::kKinesis, s, kUuid);
  m.maximum_retry_attempts = 0;
  m.destinations = Destinations{std::nullopt, dlq};
  // A trigger that fails every insert into the queue's messages: the send's job fails its
  // statement and the group's commit carries the failure.
  REQUIRE(h.db([](storage::Connection& c) {
            return c.exec("CREATE TRIGGER no_dlq BEFORE INSERT ON sqs_messages BEGIN SELECT RAISE(ABORT, 'full'); END");
          }).is_ok());
  auto poller = h.start(m);
  run_for(h, 500);
  auto cps = h.db([&](storage::Connection& c) { return storage::load_checkpoints(c, kUuid, s); });
  REQUIRE((cps.is_ok() && cps->size() == 1));
  CHECK((*cps)[0].position == 0);
  h.stop(*poller);
}

TEST_CASE("a Kinesis event names the stream's region whatever region the mapping row holds") {
  PollerHarness h;
  const std::string s = h.make_stream("clicks", 1);
  h.put(s, "k", "r0");
  Mapping m = h.mapping(SourceKind::kKinesis, s, kUuid);
  m.region = "eu-west-1";  // a row written before Create refused a source in another region
  auto poller = h.start(m);
  REQUIRE_FALSE(h.invoker.events().empty());
  auto d = parse(h.invoker.events()[0].payload);
  const auto& record = d["Records"][0];
  CHECK(std::string(record["awsRegion"].GetString()) == kRegion);
  CHECK(std::string(record["eventSourceARN"].GetString()) == s);
  h.stop(*poller);
}
