#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/uuid.h"
#include "storage/db_worker.h"
#include "storage/function_store.h"
#include "tests/fakes/fake_clock.h"

using namespace esm;
using namespace esm::storage;
using esm::testing::FakeClock;

namespace {

constexpr auto kDeadline = std::chrono::seconds(5);

std::unique_ptr<Connection> fresh_db(const std::string& path = ":memory:") {
  auto c = Connection::open(path, Durability::kNormal);
  REQUIRE(c);
  REQUIRE(migrate(**c).is_ok());
  return std::move(c).value();
}

// What the worker thread did, in order; the test thread waits on it with a deadline.
class Recorder {
 public:
  void add(std::string event) {
    {
      std::lock_guard lk(mu_);
      events_.push_back(std::move(event));
    }
    cv_.notify_all();
  }
  // Waits until `n` events were recorded; false at the deadline.
  bool wait_for_count(std::size_t n) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, kDeadline, [&] { return events_.size() >= n; });
  }
  std::vector<std::string> events() {
    std::lock_guard lk(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
};

// Tick calls with the time they were given; each call answers with the next scripted wake-up.
class TickRecorder {
 public:
  explicit TickRecorder(std::vector<std::optional<std::int64_t>> answers = {}) : answers_(std::move(answers)) {}
  DbWorker::Tick tick() {
    return [this](Connection&, std::int64_t now) -> std::optional<std::int64_t> {
      std::optional<std::int64_t> answer;
      {
        std::lock_guard lk(mu_);
        if (calls_.size() < answers_.size()) answer = answers_[calls_.size()];
        calls_.push_back(now);
      }
      cv_.notify_all();
      return answer;
    };
  }
  bool wait_for_calls(std::size_t n) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, kDeadline, [&] { return calls_.size() >= n; });
  }
  std::vector<std::int64_t> calls() {
    std::lock_guard lk(mu_);
    return calls_;
  }

 private:
  std::vector<std::optional<std::int64_t>> answers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::int64_t> calls_;
};

std::int64_t count_functions(Connection& c) {
  Statement& st = c.prepare("SELECT COUNT(*) FROM functions");
  const std::int64_t n = st.step() ? st.int64(0) : -1;
  st.reset();
  return n;
}

}  // namespace

TEST_CASE("jobs queued together run in one transaction and complete only after all of them ran") {
  FakeClock clock;
  Recorder rec;
  DbWorker worker(fresh_db(), clock);
  for (int i = 1; i <= 3; ++i) {
    worker.submit([&rec, i](Connection& c) -> DbWorker::Done {
      rec.add("job" + std::to_string(i));
      // Inside the group's transaction a nested BEGIN is refused.
      if (c.exec("BEGIN").is_ok()) rec.add("job" + std::to_string(i) + " ran outside a transaction");
      return [&rec, i](const Status& commit) {
        rec.add("done" + std::to_string(i) + (commit.is_ok() ? "" : " failed"));
      };
    }, nullptr);
  }
  worker.start(nullptr);
  REQUIRE(rec.wait_for_count(6));
  worker.stop();
  CHECK(rec.events() == std::vector<std::string>{"job1", "job2", "job3", "done1", "done2", "done3"});
}

TEST_CASE("a failed commit is reported to every completion of the group and nothing is kept") {
  FakeClock clock;
  Recorder rec;
  DbWorker worker(fresh_db(), clock);
  worker.submit([&rec](Connection& c) -> DbWorker::Done {
    (void)put_function(c, {"f", "builtin:ok", 3000, 1});
    return [&rec](const Status& commit) { rec.add(commit.is_ok() ? "ok" : "failed"); };
  }, nullptr);
  worker.submit([&rec](Connection& c) -> DbWorker::Done {
    // Ends the group's transaction behind the worker's back, so its COMMIT fails.
    (void)c.exec("ROLLBACK");
    return [&rec](const Status& commit) { rec.add(commit.is_ok() ? "ok" : "failed"); };
  }, nullptr);
  worker.start(nullptr);
  REQUIRE(rec.wait_for_count(2));
  CHECK(rec.events() == std::vector<std::string>{"failed", "failed"});
  CHECK(worker.run_sync([](Connection& c) { return count_functions(c); }) == 0);
  worker.stop();
}

TEST_CASE("a completion runs after its changes are committed and visible to other connections") {
  const auto path = std::filesystem::temp_directory_path() / ("esmd-db-worker-" + new_uuid() + ".sqlite3");
  {
    FakeClock clock;
    DbWorker worker(fresh_db(path.string()), clock);
    worker.start(nullptr);
    auto seen = std::make_shared<std::promise<std::int64_t>>();
    auto fut = seen->get_future();
    worker.submit([seen, p = path.string()](Connection& c) -> DbWorker::Done {
      (void)put_function(c, {"f", "builtin:ok", 3000, 1});
      return [seen, p](const Status&) {
        auto reader = Connection::open(p, Durability::kNormal);
        seen->set_value(reader ? count_functions(**reader) : -1);
      };
    }, nullptr);
    REQUIRE(fut.wait_for(kDeadline) == std::future_status::ready);
    CHECK(fut.get() == 1);
    worker.stop();
  }
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix, ec);
}

TEST_CASE("a job that throws completes nothing but does not stop the others") {
  FakeClock clock;
  Recorder rec;
  DbWorker worker(fresh_db(), clock);
  worker.submit([](Connection&) -> DbWorker::Done { throw std::runtime_error("boom"); }, nullptr);
  worker.submit([&rec](Connection& c) -> DbWorker::Done {
    (void)put_function(c, {"g", "builtin:ok", 3000, 1});
    return [&rec](const Status& commit) { rec.add(commit.is_ok() ? "ok" : "failed"); };
  }, nullptr);
  worker.start(nullptr);
  REQUIRE(rec.wait_for_count(1));
  CHECK(rec.events() == std::vector<std::string>{"ok"});
  CHECK(worker.run_sync([](Connection& c) { return count_functions(c); }) == 1);
  worker.stop();
}

TEST_CASE("run_sync runs inline before start and on the worker thread after it") {
  FakeClock clock;
  DbWorker worker(fresh_db(), clock);
  const auto me = std::this_thread::get_id();
  const auto before = worker.run_sync([](Connection& c) {
    return std::make_pair(put_function(c, {"f", "builtin:ok", 3000, 1}).is_ok(), std::this_thread::get_id());
  });
  CHECK(before.first);
  CHECK(before.second == me);
  worker.start(nullptr);
  const auto after =
      worker.run_sync([](Connection& c) { return std::make_pair(count_functions(c), std::this_thread::get_id()); });
  CHECK(after.first == 1);
  CHECK(after.second != me);
  worker.stop();
}

TEST_CASE("stop runs every queued job before the worker thread ends") {
  FakeClock clock;
  Recorder rec;
  DbWorker worker(fresh_db(), clock);
  worker.start(nullptr);
  for (int i = 0; i < 50; ++i)
    worker.submit([&rec](Connection&) -> DbWorker::Done { return [&rec](const Status&) { rec.add("done"); }; }, nullptr);
  worker.stop();
  CHECK(rec.events().size() == 50);
}

TEST_CASE("the tick runs at start-up with the clock's time") {
  FakeClock clock(1'700'000'000'000);
  TickRecorder ticks;
  DbWorker worker(fresh_db(), clock);
  worker.start(ticks.tick());
  REQUIRE(ticks.wait_for_calls(1));
  CHECK(ticks.calls()[0] == 1'700'000'000'000);
  worker.stop();
}

TEST_CASE("a poke after the clock moved runs the tick with the new time") {
  FakeClock clock(1'000'000);
  TickRecorder ticks({1'000'000 + 60'000});  // a minute away: the worker sleeps
  DbWorker worker(fresh_db(), clock);
  worker.start(ticks.tick());
  REQUIRE(ticks.wait_for_calls(1));
  clock.advance_ms(60'000);
  worker.poke();
  REQUIRE(ticks.wait_for_calls(2));
  CHECK(ticks.calls()[1] == 1'060'000);
  worker.stop();
}

TEST_CASE("a wake-up time that is already due runs the tick again without a poke") {
  FakeClock clock(5'000);
  TickRecorder ticks({5'000, std::nullopt});
  DbWorker worker(fresh_db(), clock);
  worker.start(ticks.tick());
  REQUIRE(ticks.wait_for_calls(2));
  CHECK(ticks.calls()[1] == 5'000);
  worker.stop();
  CHECK(ticks.calls().size() == 2);
}

TEST_CASE("a future wake-up time is honoured without a poke") {
  FakeClock clock(5'000);
  TickRecorder ticks({5'020, std::nullopt});  // 20 ms away
  DbWorker worker(fresh_db(), clock);
  worker.start(ticks.tick());
  REQUIRE(ticks.wait_for_calls(2));
  worker.stop();
  CHECK(ticks.calls().size() == 2);
}

TEST_CASE("without a wake-up time the tick waits for work or a poke") {
  FakeClock clock(5'000);
  TickRecorder ticks;
  Recorder rec;
  DbWorker worker(fresh_db(), clock);
  worker.start(ticks.tick());
  REQUIRE(ticks.wait_for_calls(1));
  clock.advance_ms(10);
  worker.submit([&rec](Connection&) -> DbWorker::Done { return [&rec](const Status&) { rec.add("done"); }; }, nullptr);
  REQUIRE(rec.wait_for_count(1));
  // The group that carried the job ran the tick first, with the moved clock.
  REQUIRE(ticks.calls().size() >= 2);
  CHECK(ticks.calls().back() == 5'010);
  worker.stop();
}

TEST_CASE("every group runs the tick inside its transaction before its jobs") {
  FakeClock clock;
  Recorder rec;
  DbWorker worker(fresh_db(), clock);
  worker.submit([&rec](Connection&) -> DbWorker::Done {
    rec.add("job");
    return nullptr;
  }, nullptr);
  worker.start([&rec](Connection& c, std::int64_t) -> std::optional<std::int64_t> {
    rec.add(c.exec("BEGIN").is_ok() ? "tick outside a transaction" : "tick");
    return std::nullopt;
  });
  REQUIRE(rec.wait_for_count(2));
  worker.stop();
  CHECK(rec.events() == std::vector<std::string>{"tick", "job"});
}

TEST_CASE("work deferred from a job runs after every completion of its group") {
  FakeClock clock;
  Recorder rec;
  DbWorker worker(fresh_db(), clock);
  worker.submit([&rec, &worker](Connection&) -> DbWorker::Done {
    worker.defer([&rec](const Status&) { rec.add("deferred"); });
    return [&rec](const Status&) { rec.add("done1"); };
  }, nullptr);
  worker.submit([&rec](Connection&) -> DbWorker::Done { return [&rec](const Status&) { rec.add("done2"); }; }, nullptr);
  worker.start(nullptr);
  REQUIRE(rec.wait_for_count(3));
  worker.stop();
  CHECK(rec.events() == std::vector<std::string>{"done1", "done2", "deferred"});
}

TEST_CASE("a group of relaxed jobs commits without fsync and a durable job restores it") {
  auto c = Connection::open(":memory:", Durability::kFull);
  REQUIRE(c);
  REQUIRE(migrate(**c).is_ok());
  FakeClock clock;
  DbWorker worker(std::move(c).value(), clock);
  worker.start(nullptr);
  auto synchronous = [](Connection& conn) {
    Statement& q = conn.prepare("PRAGMA synchronous");
    const auto v = q.step() ? q.int64(0) : -1;
    q.reset();
    return v;
  };
  std::promise<std::int64_t> relaxed, durable;
  worker.submit_relaxed([&](Connection& conn) -> DbWorker::Done {
    relaxed.set_value(synchronous(conn));
    return nullptr;
  }, nullptr);
  auto r = relaxed.get_future();
  REQUIRE(r.wait_for(kDeadline) == std::future_status::ready);
  CHECK(r.get() == 1);  // NORMAL
  worker.submit([&](Connection& conn) -> DbWorker::Done {
    durable.set_value(synchronous(conn));
    return nullptr;
  }, nullptr);
  auto d = durable.get_future();
  REQUIRE(d.wait_for(kDeadline) == std::future_status::ready);
  CHECK(d.get() == 2);  // FULL
  worker.stop();
}
