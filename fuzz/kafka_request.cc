// The Kafka broker's request decoding: one request frame (after its size field) handed to
// KafkaApi::handle as the listener hands it, answered through the real log engine (an in-memory
// database behind the DbWorker) and group coordinator (a fake scheduler: no time passes), as
// tests/api/kafka_api_test.cc builds them. The request header, every API's request parser and
// the Produce path's record batches are reached; each request must be answered or closed at
// most once, and an answer must start with the request's correlation id.
//
// The broker lives for the whole run: topics and records that inputs create stay, as in a
// real broker. Requests that wait (a Fetch with max_wait_ms, a JoinGroup waiting for its
// group) never time out here, since neither the io_context nor the fake scheduler runs.
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "api/kafka/kafka_api.h"
#include "services/kafka/group_coordinator.h"
#include "services/kafka/log_engine.h"
#include "storage/db_worker.h"
#include "storage/sqlite.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_scheduler.h"

using namespace esm;

namespace {

std::unique_ptr<storage::DbWorker> open_db(const Clock& clock) {
  auto c = storage::Connection::open(":memory:", storage::Durability::kNormal);
  if (!c || !storage::migrate(**c).is_ok()) std::abort();
  return std::make_unique<storage::DbWorker>(std::move(c).value(), clock);
}

struct Broker {
  Broker() : db(open_db(clock)), log(*db), groups(scheduler), api(*db, log, groups, clock, ioc.get_executor()) {
    if (!db->run_sync([&](storage::Connection& c) { return log.load(c); }).is_ok()) std::abort();
    db->add_recovery([this](storage::Connection& c, std::int64_t) { return log.recover(c); });
    db->start([this](storage::Connection& c, std::int64_t now) { return log.tick(c, now); });
  }
  // The broker is never destroyed: libFuzzer exits without unwinding, and the worker thread
  // must not outlive what it serves.

  void barrier() {
    if (!db->run_sync([](storage::Connection&) { return Status::ok(); }).is_ok()) std::abort();
  }

  testing::FakeClock clock;
  testing::FakeScheduler scheduler;
  std::unique_ptr<storage::DbWorker> db;
  boost::asio::io_context ioc;
  kafka::LogEngine log;
  kafka::GroupCoordinator groups;
  api::KafkaApi api;
};

Broker& broker() {
  static Broker* b = new Broker();
  return *b;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // every refused request is logged at warn
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Broker& b = broker();
  auto frame = std::make_shared<const std::string>(reinterpret_cast<const char*>(data), size);
  auto answers = std::make_shared<std::atomic<int>>(0);
  std::string correlation = size >= 8 ? frame->substr(4, 4) : std::string();
  b.api.handle(frame, "127.0.0.1", [answers, correlation](api::KafkaOutcome out) {
    if (++*answers > 1) std::abort();  // answered twice
    if (out.kind == api::KafkaOutcome::Kind::kReply && out.bytes.compare(0, 4, correlation) != 0) std::abort();
  });
  b.barrier();
  return 0;
}
