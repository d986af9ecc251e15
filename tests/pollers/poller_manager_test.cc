// PollerManager makes pollers through the registry alone: one per mapping of a registered
// kind, updated and stopped as the mapping changes.

#include "pollers/poller_manager.h"

#include <catch2/catch.hpp>

#include "tests/pollers/poller_harness.h"

using namespace esm;
using namespace esm::testing;

namespace {

struct Calls {
  int made = 0, started = 0, updated = 0, stopped = 0;
  std::string last_batch;
};

class RecordingPoller final : public pollers::Poller {
 public:
  explicit RecordingPoller(Calls& calls) : calls_(calls) {}
  void start() override { ++calls_.started; }
  void update(Mapping m) override {
    ++calls_.updated;
    calls_.last_batch = std::to_string(m.batch_size);
  }
  void stop(std::function<void()> on_stopped) override {
    ++calls_.stopped;
    on_stopped();
  }

 private:
  Calls& calls_;
};

}  // namespace

TEST_CASE("the poller manager makes a poller only for a kind with a registered maker") {
  PollerHarness h;
  Calls calls;
  pollers::PollerRegistry registry;
  registry.add(SourceKind::kMq, [&calls](const pollers::PollerDeps&, const Mapping&) -> std::shared_ptr<pollers::Poller> {
    ++calls.made;
    return std::make_shared<RecordingPoller>(calls);
  });
  pollers::PollerManager manager(h.deps(), std::move(registry));
  Mapping sqs = h.mapping(SourceKind::kSqs, "arn:aws:sqs:us-east-1:123456789012:q", "a");
  Mapping mq = h.mapping(SourceKind::kMq, "arn:aws:mq:us-east-1:123456789012:broker:b:b-1", "b");
  manager.start({sqs, mq});
  h.settle();
  CHECK(calls.made == 1);
  CHECK(calls.started == 1);

  mq.batch_size = 7;
  manager.notify(mq, false);
  h.settle();
  CHECK(calls.made == 1);
  CHECK(calls.updated == 1);
  CHECK(calls.last_batch == "7");

  manager.notify(mq, true);
  h.settle();
  CHECK(calls.stopped == 1);
  manager.notify(mq, false);
  h.settle();
  CHECK(calls.made == 2);
  manager.stop();
  h.settle();
  CHECK(calls.stopped == 2);
}

TEST_CASE("the registered SQS maker gives an SQS mapping a polling poller") {
  PollerHarness h;
  const std::string q = h.make_queue("orders");
  h.send(q, "a");
  pollers::PollerManager manager(h.deps(), h.registry);
  manager.start({h.mapping(SourceKind::kSqs, q, "11111111-1111-4111-8111-111111111111")});
  h.settle();
  CHECK(h.invoker.calls() == 1);
  manager.stop();
  h.settle();
}
