#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/config.h"
#include "server/source.h"
#include "server/sources/builtin.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/memory_db.h"

using namespace esm;
using namespace esm::server;

namespace {

// A source that claims requests whose x-amz-target starts with its name and mappings of its
// kind, and records what the set asked of it.
class FakeSource final : public Source {
 public:
  FakeSource(std::string name, SourceKind kind, std::vector<std::string>& calls)
      : name_(std::move(name)), kind_(kind), calls_(calls) {}

  std::optional<std::int64_t> next_tick;
  Status open_status = Status::ok();
  Status verdict = Status::ok();
  int handled = 0;

  std::string_view name() const override { return name_; }
  Status open(storage::Connection&, std::int64_t) override {
    calls_.push_back("open " + name_);
    return open_status;
  }
  Status recover(storage::Connection&, std::int64_t) override { return Status::ok(); }
  std::optional<std::int64_t> tick(storage::Connection&, std::int64_t) override { return next_tick; }
  bool matches(const api::Request& req) const override { return req.header("x-amz-target").starts_with(name_); }
  void handle(api::Request, api::Reply reply) override {
    ++handled;
    reply(api::Response{});
  }
  void register_pollers(pollers::PollerRegistry& registry) override {
    registry.add(kind_, [](const pollers::PollerDeps&, const Mapping&) { return nullptr; });
  }
  std::optional<Status> check_source(storage::Connection&, const Mapping& m) override {
    if (m.kind != kind_) return std::nullopt;
    return verdict;
  }

 private:
  std::string name_;
  SourceKind kind_;
  std::vector<std::string>& calls_;
};

struct Fixture {
  testing::FakeClock clock;
  testing::MemoryDb db{clock};
  std::vector<std::string> calls;
  FakeSource* queues = nullptr;
  FakeSource* streams = nullptr;
  std::unique_ptr<SourceSet> set;

  Fixture() {
    std::vector<std::unique_ptr<Source>> sources;
    auto q = std::make_unique<FakeSource>("queues", SourceKind::kSqs, calls);
    auto s = std::make_unique<FakeSource>("streams", SourceKind::kKinesis, calls);
    queues = q.get();
    streams = s.get();
    sources.push_back(std::move(q));
    sources.push_back(std::move(s));
    set = std::make_unique<SourceSet>(std::move(sources));
  }
};

api::Request request_with_target(std::string target) {
  api::Request req;
  req.method = "POST";
  req.headers.emplace_back("x-amz-target", std::move(target));
  return req;
}

Mapping mapping_of(SourceKind kind, std::string arn) {
  Mapping m;
  m.kind = kind;
  m.event_source_arn = std::move(arn);
  return m;
}

}  // namespace

TEST_CASE("sources open in registration order") {
  Fixture f;
  REQUIRE(f.set->open(*f.db.worker, f.clock.now_ms()).is_ok());
  CHECK(f.calls == std::vector<std::string>{"open queues", "open streams"});
}

TEST_CASE("a source that cannot open stops the start-up with its error") {
  Fixture f;
  f.queues->open_status = internal_error("unreadable queues");
  Status s = f.set->open(*f.db.worker, f.clock.now_ms());
  CHECK(s.code() == Code::kInternal);
  CHECK(s.message() == "unreadable queues");
  CHECK(f.calls == std::vector<std::string>{"open queues"});
}

TEST_CASE("a request goes to the source whose front-end claims it, and to none when no source does") {
  Fixture f;
  CHECK(f.set->front_end_for(request_with_target("streams.PutRecord")) == f.streams);
  CHECK(f.set->front_end_for(request_with_target("queues.SendMessage")) == f.queues);
  CHECK(f.set->front_end_for(request_with_target("Lambda.Invoke")) == nullptr);
}

TEST_CASE("the tick asks for the earliest next run of any source") {
  Fixture f;
  std::optional<std::int64_t> next;
  SECTION("no source has timed work") {
    REQUIRE(f.db.worker->run_sync([&](storage::Connection& c) {
      next = f.set->tick(c, f.clock.now_ms());
      return Status::ok();
    }).is_ok());
    CHECK_FALSE(next);
  }
  SECTION("two sources have") {
    f.queues->next_tick = 5000;
    f.streams->next_tick = 3000;
    REQUIRE(f.db.worker->run_sync([&](storage::Connection& c) {
      next = f.set->tick(c, f.clock.now_ms());
      return Status::ok();
    }).is_ok());
    CHECK(next == 3000);
  }
}

TEST_CASE("every source registers its poller") {
  Fixture f;
  pollers::PollerRegistry registry;
  f.set->register_pollers(registry);
  CHECK(registry.find(SourceKind::kSqs));
  CHECK(registry.find(SourceKind::kKinesis));
  CHECK_FALSE(registry.find(SourceKind::kMq));
}

TEST_CASE("a mapping's source is checked by the source it belongs to; other kinds are accepted") {
  Fixture f;
  f.streams->verdict = invalid_parameter("Stream not found: arn");
  Status verdict;
  auto check = [&](const Mapping& m) {
    REQUIRE(f.db.worker->run_sync([&](storage::Connection& c) {
      verdict = f.set->check_source(c, m);
      return Status::ok();
    }).is_ok());
    return verdict;
  };
  CHECK(check(mapping_of(SourceKind::kSqs, "arn:aws:sqs:us-east-1:000000000000:q")).is_ok());
  CHECK(check(mapping_of(SourceKind::kKinesis, "arn")).message() == "Stream not found: arn");
  CHECK(check(mapping_of(SourceKind::kDynamoDb, "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x")).is_ok());
}

TEST_CASE("the built-in sources are SQS and Kinesis, and they check that a queue or a stream exists") {
  testing::FakeClock clock;
  testing::MemoryDb db{clock};
  Config config;
  BuiltinSources builtin = make_builtin_sources(SourceContext{*db.worker, clock, config});
  CHECK(builtin.failure_queues != nullptr);
  SourceSet set(std::move(builtin.sources));
  REQUIRE(set.open(*db.worker, clock.now_ms()).is_ok());

  pollers::PollerRegistry registry;
  set.register_pollers(registry);
  CHECK(registry.find(SourceKind::kSqs));
  CHECK(registry.find(SourceKind::kKinesis));

  api::Request kinesis = request_with_target("Kinesis_20131202.ListStreams");
  REQUIRE(set.front_end_for(kinesis));
  CHECK(set.front_end_for(kinesis)->name() == "kinesis");
  api::Request sqs = request_with_target("AmazonSQS.ListQueues");
  REQUIRE(set.front_end_for(sqs));
  CHECK(set.front_end_for(sqs)->name() == "sqs");

  Status queue_verdict, stream_verdict, table_verdict;
  REQUIRE(db.worker->run_sync([&](storage::Connection& c) {
    queue_verdict = set.check_source(c, mapping_of(SourceKind::kSqs, "arn:aws:sqs:us-east-1:000000000000:missing"));
    stream_verdict =
        set.check_source(c, mapping_of(SourceKind::kKinesis, "arn:aws:kinesis:us-east-1:000000000000:stream/missing"));
    table_verdict = set.check_source(
        c, mapping_of(SourceKind::kDynamoDb, "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2024"));
    return Status::ok();
  }).is_ok());
  CHECK(queue_verdict.code() == Code::kInvalidParameter);
  CHECK_THAT(queue_verdict.message(), Catch::Contains("AWS.SimpleQueueService.NonExistentQueue"));
  CHECK(stream_verdict.code() == Code::kInvalidParameter);
  CHECK(stream_verdict.message() == "Stream not found: arn:aws:kinesis:us-east-1:000000000000:stream/missing");
  CHECK(table_verdict.is_ok());
}
