// The commit rule for the stream engine, with faults injected: a put is acknowledged only after
// its commit, a failed commit makes the worker refuse work until the engine reloaded itself, and
// afterwards the engine's memory is what the disk holds.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "core/uuid.h"
#include "services/kinesis/stream_engine.h"
#include "storage/db_worker.h"
#include "storage/stream_store.h"
#include "tests/fakes/fake_clock.h"


using namespace esm::kinesis;
using esm::Code;
using esm::Status;
using esm::internal_error;
using esm::storage::Connection;
using esm::storage::DbWorker;
using esm::testing::FakeClock;

namespace {

constexpr auto kDeadline = std::chrono::seconds(5);

std::unique_ptr<Connection> fresh_db(const std::string& path) {
  auto c = Connection::open(path, esm::storage::Durability::kNormal);
  REQUIRE(c);
  REQUIRE(esm::storage::migrate(**c).is_ok());
  return std::move(c).value();
}

// A worker whose recovery reloads the engine, once the test lets the "disk" come back.
struct Fixture {
  explicit Fixture(const std::string& path = ":memory:") : db(fresh_db(path), clock), engine(db, "123456789012") {
    REQUIRE(db.run_sync([&](Connection& c) { return engine.load(c); }).is_ok());
    db.add_recovery([this](Connection& c, std::int64_t) {
      ++recoveries;
      if (!disk_back) return internal_error("the disk is still failing");
      return engine.recover(c);
    });
    db.start([this](Connection& c, std::int64_t now) { return engine.tick(c, now); });
  }
  ~Fixture() { db.stop(); }

  Stream& create(const std::string& name) {
    auto s = db.run_sync([&](Connection& c) {
      return engine.create_stream(c, "us-east-1", name, 1, "PROVISIONED", {}, clock.now_ms());
    });
    REQUIRE(s);
    return **s;
  }
  Expected<StreamEngine::PutResult> put(const std::string& arn, const std::string& data) {
    return db.run_sync([&](Connection& c) -> Expected<StreamEngine::PutResult> {
      Stream* s = engine.find_by_arn(arn);
      if (!s) return KinesisError(ErrorKind::kStreamNotFound);
      return engine.put(c, *s, {"k", data, ""}, clock.now_ms());
    });
  }

  // The records the engine serves and the rows on disk, read in one job.
  struct Views {
    std::vector<std::pair<std::int64_t, std::string>> memory;
    std::vector<std::pair<std::int64_t, std::string>> disk;
    std::int64_t next_index = 0;
  };
  Expected<Views> views(const std::string& arn) {
    return db.run_sync([&](Connection& c) -> Expected<Views> {
      Views v;
      Stream* s = engine.find_by_arn(arn);
      if (!s) return KinesisError(ErrorKind::kStreamNotFound);
      for (const auto& r : engine.read(*s, 0, 0, 100000, SIZE_MAX, clock.now_ms()).records)
        v.memory.emplace_back(r.index, r.data);
      v.next_index = s->shards[0].next_index;
      Status st = esm::storage::for_each_record_row(c, [&](esm::storage::RecordRow&& r) {
        v.disk.emplace_back(r.record_index, std::move(r.data));
        return Status::ok();
      });
      if (!st.is_ok()) return KinesisError(st);
      return v;
    });
  }

  FakeClock clock;
  DbWorker db;
  StreamEngine engine;
  std::atomic<bool> disk_back{true};
  std::atomic<int> recoveries{0};
};

}  // namespace

TEST_CASE("a put whose commit fails is not acknowledged, and the reloaded engine matches the disk") {
  Fixture f;
  const std::string arn = f.create("faulty").arn;
  for (int i = 0; i < 3; ++i) REQUIRE(f.put(arn, "ok-" + std::to_string(i)));

  // A poller waiting past the tip: the failed put does not reach it, the recovery does.
  auto woken = std::make_shared<std::promise<void>>();
  REQUIRE(f.db.run_sync([&](Connection&) {
    f.engine.wait_for_records(*f.engine.find_by_arn(arn), 0, 10, "poller-a", [woken] { woken->set_value(); });
    return Status::ok();
  }).is_ok());

  f.disk_back = false;
  auto lost = f.db.run_sync([&](Connection& c) -> Expected<StreamEngine::PutResult> {
    auto r = f.engine.put(c, *f.engine.find_by_arn(arn), {"k", "lost", ""}, f.clock.now_ms());
    // Ends the group's transaction behind the worker's back, so its COMMIT fails.
    if (!c.exec("ROLLBACK").is_ok()) return KinesisError(internal_error("ROLLBACK failed"));
    return r;
  });
  REQUIRE_FALSE(lost.has_value());
  CHECK(lost.error().kind == ErrorKind::kStorage);

  // FAILED: the recovery keeps failing, so a put is refused without running.
  auto refused = f.put(arn, "refused");
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().kind == ErrorKind::kStorage);
  CHECK(refused.error().cause.code() == Code::kInternal);
  CHECK_FALSE(f.db.healthy());

  f.disk_back = true;
  auto v = f.views(arn);
  REQUIRE(v);
  CHECK(f.db.healthy());
  CHECK(woken->get_future().wait_for(kDeadline) == std::future_status::ready);
  CHECK(v->memory == v->disk);
  REQUIRE(v->disk.size() == 3);
  CHECK(v->disk.back().second == "ok-2");
  CHECK(v->next_index == 3);

  // The unacknowledged index is handed out again; no index is skipped.
  auto next = f.put(arn, "after");
  REQUIRE(next);
  CHECK(next->index == 3);
  CHECK(next->sequence_number == sequence_number_of(f.engine.find_by_arn(arn)->id, 0, 3));
}

TEST_CASE("a stream created in a failed commit is gone after the recovery, and its id is handed out again") {
  Fixture f;
  const std::int64_t kept_id = f.create("kept").id;
  auto lost = f.db.run_sync([&](Connection& c) -> Expected<std::int64_t> {
    auto s = f.engine.create_stream(c, "us-east-1", "ghost", 2, "PROVISIONED", {}, f.clock.now_ms());
    if (!c.exec("ROLLBACK").is_ok()) return KinesisError(internal_error("ROLLBACK failed"));
    if (!s) return s.error();
    return (*s)->id;
  });
  REQUIRE_FALSE(lost.has_value());
  auto ghost = f.db.run_sync([&](Connection&) { return f.engine.find("us-east-1", "ghost"); });
  REQUIRE_FALSE(ghost.has_value());
  CHECK(ghost.error().kind == ErrorKind::kStreamNotFound);
  CHECK(f.create("real").id == kept_id + 1);
}

TEST_CASE("on a full disk no put is acknowledged without its row, and memory matches the disk") {
  const auto path = (std::filesystem::temp_directory_path() / ("esmd-kinesis-full-" + esm::new_uuid() + ".db")).string();
  {
    Fixture f(path);
    const std::string arn = f.create("full").arn;
    // Caps the file at the pages it has now plus a few: the puts below run out of room.
    REQUIRE(f.db.run_sync([](Connection& c) {
      auto& q = c.prepare("PRAGMA page_count");
      const std::int64_t pages = q.step() ? q.int64(0) : 0;
      q.reset();
      return c.exec("PRAGMA max_page_count = " + std::to_string(pages + 8));
    }).is_ok());

    // PutRecords-like jobs: several puts in one job, until the disk refuses.
    std::vector<std::int64_t> acknowledged;
    bool refused = false;
    for (int round = 0; round < 50 && !refused; ++round) {
      auto r = f.db.run_sync([&](Connection& c) -> Expected<std::vector<std::int64_t>> {
        std::vector<std::int64_t> got;
        for (int i = 0; i < 4; ++i) {
          auto p = f.engine.put(c, *f.engine.find_by_arn(arn), {"k", std::string(3000, 'a' + i), ""}, f.clock.now_ms());
          if (!p) return p.error();
          got.push_back(p->index);
        }
        return got;
      });
      if (!r) {
        CHECK(r.error().kind == ErrorKind::kStorage);
        refused = true;
      } else {
        acknowledged.insert(acknowledged.end(), r->begin(), r->end());
      }
    }
    REQUIRE(refused);

    auto v = f.views(arn);
    REQUIRE(v);
    CHECK(v->memory.size() == v->disk.size());
    for (std::size_t i = 0; i < std::min(v->memory.size(), v->disk.size()); ++i) CHECK(v->memory[i] == v->disk[i]);
    // Every acknowledged put is on disk.
    for (std::int64_t index : acknowledged) {
      bool found = false;
      for (const auto& [i, _] : v->disk) found = found || i == index;
      CHECK(found);
    }

    // With room again the next put follows the last row, neither skipping nor reusing one.
    REQUIRE(f.db.run_sync([](Connection& c) { return c.exec("PRAGMA max_page_count = 1073741823"); }).is_ok());
    auto next = f.put(arn, "room");
    REQUIRE(next);
    CHECK(next->index == (v->disk.empty() ? 0 : v->disk.back().first + 1));
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
}
