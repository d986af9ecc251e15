#pragma once
// A started DbWorker on a fresh database with a QueueEngine on it, driven by a FakeClock.
// Every engine call goes through run_sync, as the API's jobs do, so deferred callbacks run
// after a real commit; receives wait for their callback with a deadline (no sleeps). The
// engine's recovery is registered as server/app.cc registers it.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "services/sqs/queue_engine.h"
#include "storage/db_worker.h"
#include "storage/queue_store.h"
#include "tests/fakes/fake_clock.h"

namespace esm::testing {

using sqs::Error;
using sqs::ErrorKind;
using sqs::Queue;
using sqs::QueueEngine;
using sqs::ReceiveOptions;
using sqs::ReceiveResult;
using sqs::Received;
using sqs::SendInput;
using sqs::SendResult;
using storage::Connection;

inline constexpr auto kWaitDeadline = std::chrono::seconds(5);
inline constexpr const char* kRegion = "us-east-1";

inline std::unique_ptr<Connection> fresh_queue_db(const std::string& path = ":memory:") {
  auto c = Connection::open(path, storage::Durability::kNormal);
  REQUIRE(c);
  REQUIRE(storage::migrate(**c).is_ok());
  return std::move(c).value();
}

struct QueueFixture {
  explicit QueueFixture(const std::string& path = ":memory:", std::function<Status()> before_recovery = nullptr)
      : db(fresh_queue_db(path), clock), engine(db, "123456789012") {
    REQUIRE(db.run_sync([&](Connection& c) { return engine.load(c, clock.now_ms()); }).is_ok());
    if (before_recovery)
      db.add_recovery([f = std::move(before_recovery)](Connection&, std::int64_t) { return f(); });
    db.add_recovery([this](Connection& c, std::int64_t now) { return engine.recover(c, now); });
    db.start([this](Connection& c, std::int64_t now) { return engine.tick(c, now); });
  }
  ~QueueFixture() { db.stop(); }

  void create(const std::string& name, std::map<std::string, std::string> attributes = {}) {
    auto r = db.run_sync([&](Connection& c) -> Status {
      auto q = engine.create_queue(c, kRegion, name, attributes, {}, clock.now_ms());
      return q ? Status::ok() : internal_error(sqs::kind_name(q.error().kind));
    });
    REQUIRE(r.is_ok());
  }

  // Runs fn(queue) on the worker; the queue is looked up by name in the job, so that a
  // recovery (which rebuilds every Queue) does not leave the test holding a stale one.
  template <typename F>
  auto on_queue(const std::string& name, F fn) {
    using R = std::invoke_result_t<F, Connection&, Queue&>;
    auto p = std::make_shared<std::promise<std::optional<R>>>();
    auto fut = p->get_future();
    const Status s = db.run_sync([&](Connection& c) -> Status {
      auto q = engine.find(kRegion, name);
      if (!q) p->set_value(std::nullopt);
      else p->set_value(fn(c, **q));
      return Status::ok();
    });
    REQUIRE(s.is_ok());
    auto r = fut.get();
    REQUIRE(r.has_value());
    return std::move(*r);
  }

  Expected<SendResult, Error> send(const std::string& queue, SendInput in) {
    return on_queue(queue, [&](Connection& c, Queue& q) { return engine.send(c, q, in, clock.now_ms()); });
  }
  SendResult send_ok(const std::string& queue, const std::string& body, const std::string& group = "") {
    SendInput in;
    in.body = body;
    in.group_id = group;
    auto r = send(queue, in);
    REQUIRE(r);
    return *r;
  }

  // Starts a receive; the future is ready once the engine called back (after the commit).
  std::future<ReceiveResult> receive_async(const std::string& queue, ReceiveOptions opt) {
    auto p = std::make_shared<std::promise<ReceiveResult>>();
    auto fut = p->get_future();
    on_queue(queue, [&](Connection& c, Queue& q) {
      engine.receive(c, q, opt, clock.now_ms(), [p](ReceiveResult r) { p->set_value(std::move(r)); });
      return 0;
    });
    return fut;
  }
  ReceiveResult receive(const std::string& queue, int max = 10, std::optional<int> visibility_s = std::nullopt) {
    ReceiveOptions opt;
    opt.max_messages = max;
    opt.visibility_timeout_s = visibility_s;
    auto fut = receive_async(queue, opt);
    REQUIRE(fut.wait_for(kWaitDeadline) == std::future_status::ready);
    return fut.get();
  }
  std::vector<Received> receive_ok(const std::string& queue, int max = 10,
                                   std::optional<int> visibility_s = std::nullopt) {
    auto r = receive(queue, max, visibility_s);
    REQUIRE(r);
    return std::move(*r);
  }

  Expected<void, Error> delete_message(const std::string& queue, const std::string& receipt) {
    return on_queue(queue, [&](Connection& c, Queue& q) { return engine.delete_message(c, q, receipt); });
  }
  Expected<void, Error> change_visibility(const std::string& queue, const std::string& receipt, int timeout_s) {
    return on_queue(queue, [&](Connection& c, Queue& q) {
      return engine.change_visibility(c, q, receipt, timeout_s, clock.now_ms());
    });
  }
  std::map<std::string, std::string> attributes(const std::string& queue) {
    auto a = on_queue(queue, [&](Connection&, Queue& q) { return engine.get_attributes(q, {"All"}, clock.now_ms()); });
    REQUIRE(a);
    return *a;
  }
  int count(const std::string& queue, const char* attribute) { return std::stoi(attributes(queue).at(attribute)); }
  // Rows on disk for this queue, read in a job of its own.
  std::int64_t rows(const std::string& queue) {
    auto n = on_queue(queue, [&](Connection& c, Queue& q) { return storage::count_message_rows(c, q.id); });
    REQUIRE(n);
    return *n;
  }
  std::size_t messages_in_memory(const std::string& queue) {
    return on_queue(queue, [&](Connection&, Queue& q) { return q.size(); });
  }
  // How many messages the engine's receives have looked at so far (read on the worker).
  std::size_t take_visits(const std::string& queue) {
    return on_queue(queue, [&](Connection&, Queue&) { return engine.take_visits(); });
  }
  // Moves the fake time and lets the tick see it.
  void advance_s(int s) {
    clock.advance_ms(static_cast<std::int64_t>(s) * 1000);
    REQUIRE(db.run_sync([](Connection&) { return Status::ok(); }).is_ok());
  }

  FakeClock clock;
  storage::DbWorker db;
  QueueEngine engine;
};

}  // namespace esm::testing
