#pragma once
// PollerHarness: a poller's world with no real time and no real function: an io_context run
// only by the test thread (so every strand runs here), a FakeScheduler that is also the
// database worker's clock, a FakeInvoker, a migrated `:memory:` database behind a DbWorker,
// and the queue and stream engines on it.
//
// settle() runs everything that can run without time moving: posted handlers, database jobs
// and their completions, answers due now. advance(ms) moves time, settling after each due wait.

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/destination_log.h"
#include "core/function_registry.h"
#include "pollers/failure_destination.h"
#include "pollers/kinesis_poller.h"
#include "pollers/poller_registry.h"
#include "pollers/sqs_poller.h"
#include "services/kinesis/stream_engine.h"
#include "storage/mapping_store.h"
#include "services/sqs/queue_engine.h"
#include "tests/fakes/fake_invoker.h"
#include "tests/fakes/fake_scheduler.h"
#include "tests/fakes/memory_db.h"

namespace esm::testing {

inline constexpr const char* kAccount = "123456789012";
inline constexpr const char* kRegion = "us-east-1";

class PollerHarness {
 public:
  PollerHarness() : invoker(sched), mem(sched) {
    queues = std::make_unique<sqs::QueueEngine>(*mem.worker, kAccount);
    streams = std::make_unique<kinesis::StreamEngine>(*mem.worker, kAccount);
    failures = std::make_unique<pollers::FailureDestination>(*mem.worker, *queues, destinations, sched);
    functions.put(FunctionSpec{"fn", "http://127.0.0.1:9/fn", 3000, 10});
    mem.start([this](storage::Connection& c, std::int64_t now) {
      std::optional<std::int64_t> next;
      for (auto t : {queues->tick(c, now), streams->tick(c, now)})
        if (t && (!next || *t < *next)) next = t;
      return next;
    });
    sched.set_settle([this] { drain(); });
    pollers::register_sqs_poller(registry, *queues);
    pollers::register_kinesis_poller(registry, *streams);
  }
  ~PollerHarness() {
    mem.worker->stop();
    sched.clear();
    invoker.clear();
  }

  pollers::PollerDeps deps() {
    return pollers::PollerDeps{ioc, *mem.worker, invoker, functions, sched, 5, failures.get()};
  }

  // Runs handlers and database jobs until neither has anything left.
  void drain() {
    for (int quiet = 0; quiet < 2;) {
      mem.barrier();
      ioc.restart();
      quiet = ioc.poll() == 0 ? quiet + 1 : 0;
    }
  }
  void settle() {
    drain();
    sched.advance_ms(0);
    drain();
  }
  void advance(std::int64_t ms) {
    sched.advance_ms(ms);
    settle();
  }

  // Runs fn on the database worker and waits for its commit.
  template <typename F>
  auto db(F fn) {
    return mem.worker->run_sync(std::move(fn));
  }

  std::string make_queue(const std::string& name, std::map<std::string, std::string> attributes = {}) {
    return db([&](storage::Connection& c) -> Result<std::string> {
             auto q = queues->create_queue(c, kRegion, name, attributes, {}, sched.now_ms());
             if (!q) return internal_error(sqs::kind_name(q.error().kind));
             return (*q)->arn;
           })
        .value();
  }
  void send(const std::string& queue_arn, const std::string& body, const std::string& group = "") {
    REQUIRE(db([&](storage::Connection& c) -> Status {
              sqs::Queue* q = queues->find_by_arn(queue_arn);
              if (!q) return not_found("no queue");
              sqs::SendInput in;
              in.body = body;
              if (q->fifo) {
                in.group_id = group.empty() ? "g" : group;
                in.dedup_id = body;
              }
              auto r = queues->send(c, *q, std::move(in), sched.now_ms());
              return r ? Status::ok() : internal_error(sqs::kind_name(r.error().kind));
            }).is_ok());
  }
  // Messages in the queue, visible or not.
  std::size_t queue_depth(const std::string& queue_arn) {
    return db([&](storage::Connection&) -> std::size_t {
      sqs::Queue* q = queues->find_by_arn(queue_arn);
      return q ? q->size() : 0;
    });
  }
  std::vector<std::string> queue_bodies(const std::string& queue_arn) {
    // Memory keeps no bodies: read the queue's rows, in send order.
    return db([&](storage::Connection& c) -> std::vector<std::string> {
      std::vector<std::string> out;
      sqs::Queue* q = queues->find_by_arn(queue_arn);
      auto rows = storage::load_message_rows(c);
      REQUIRE(rows);
      if (q)
        for (const auto& row : *rows)
          if (row.queue_id == q->id) out.push_back(row.body);
      return out;
    });
  }

  std::string make_stream(const std::string& name, int shards) {
    return db([&](storage::Connection& c) -> Result<std::string> {
             auto s = streams->create_stream(c, kRegion, name, shards, "PROVISIONED", {}, sched.now_ms());
             if (!s) return internal_error("create_stream failed");
             return (*s)->arn;
           })
        .value();
  }
  void put(const std::string& stream_arn, const std::string& key, const std::string& data) {
    REQUIRE(db([&](storage::Connection& c) -> Status {
              kinesis::Stream* s = streams->find_by_arn(stream_arn);
              if (!s) return not_found("no stream");
              auto r = streams->put(c, *s, {key, data, ""}, sched.now_ms());
              return r ? Status::ok() : internal_error("put failed");
            }).is_ok());
  }

  Mapping mapping(SourceKind kind, const std::string& source_arn, const std::string& uuid) {
    Mapping m;
    m.uuid = uuid;
    m.region = kRegion;
    m.account = kAccount;
    m.function_arn = std::string("arn:aws:lambda:") + kRegion + ":" + kAccount + ":function:fn";
    m.kind = kind;
    m.event_source_arn = source_arn;
    m.state = MappingState::kEnabled;
    m.batch_size = 10;
    if (kind == SourceKind::kKinesis) m.starting_position = "TRIM_HORIZON";
    return m;
  }
  // Stores the mapping (checkpoints are kept only for a stored mapping) and makes its poller.
  std::shared_ptr<pollers::Poller> start(const Mapping& m) {
    Mapping stored = m;
    REQUIRE(db([&](storage::Connection& c) { return storage::insert_mapping(c, stored); }).is_ok());
    auto p = (*registry.find(m.kind))(deps(), m);
    p->start();
    settle();
    return p;
  }
  // Stops the poller; true once its on_stopped ran.
  std::shared_ptr<bool> stop(pollers::Poller& p) {
    auto stopped = std::make_shared<bool>(false);
    p.stop([stopped] { *stopped = true; });
    settle();
    return stopped;
  }

  boost::asio::io_context ioc;
  FakeScheduler sched;
  FakeInvoker invoker;
  MemoryDb mem;
  FunctionRegistry functions;
  DestinationLog destinations;
  std::unique_ptr<sqs::QueueEngine> queues;
  std::unique_ptr<kinesis::StreamEngine> streams;
  std::unique_ptr<pollers::FailureDestination> failures;
  pollers::PollerRegistry registry;
};

}  // namespace esm::testing
