// The DbWorker's one rule for commits, proven with injected faults: a vetoed COMMIT (SQLite's
// commit hook), a BEGIN that cannot take the write lock, a full database and a recovery that
// keeps failing. Nothing is acknowledged without its commit, no job runs in autocommit, and
// memory reloaded by the recovery matches the disk.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
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

std::unique_ptr<Connection> open_db(const std::string& path = ":memory:") {
  auto c = Connection::open(path, Durability::kNormal);
  REQUIRE(c);
  REQUIRE(migrate(**c).is_ok());
  return std::move(c).value();
}

// Outcomes in arrival order; the test thread waits for them with a deadline.
class Outcomes {
 public:
  void add(std::string o) {
    {
      std::lock_guard lk(mu_);
      list_.push_back(std::move(o));
    }
    cv_.notify_all();
  }
  std::vector<std::string> wait_for(std::size_t n) {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, kDeadline, [&] { return list_.size() >= n; });
    return list_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> list_;
};

std::string outcome(const Status& s) { return s.is_ok() ? "ok" : s.code() == Code::kInternal ? "internal" : "error"; }

// A miniature engine: the registered functions mirrored in memory, changed inside jobs the way
// the queue and stream engines change their maps, with the recovery the worker calls.
struct MirrorEngine {
  std::map<std::string, std::string> memory;  // worker thread only
  std::atomic<int> recoveries{0};
  std::atomic<bool> recovery_fails{false};

  Status reload(Connection& c) {
    ++recoveries;
    if (recovery_fails) return internal_error("disk unreadable");
    auto rows = load_functions(c);
    if (!rows) return rows.status();
    memory.clear();
    for (const auto& f : *rows) memory[f.name] = f.target;
    return Status::ok();
  }
  // The job a client's "register" would be: memory changes once its statement succeeded; only
  // the commit can still fail, and then the recovery reloads memory.
  DbWorker::Job put(std::string name, Outcomes& out) {
    return [this, name, &out](Connection& c) -> DbWorker::Done {
      Status s = put_function(c, {name, "builtin:ok", 3000, 1});
      if (s.is_ok()) memory[name] = "builtin:ok";
      return [s, &out](const Status& commit) { out.add(outcome(s.is_ok() ? commit : s)); };
    };
  }
};

std::map<std::string, std::string> on_disk(DbWorker& w) {
  auto rows = w.run_sync([](Connection& c) { return load_functions(c); });
  REQUIRE(rows);
  std::map<std::string, std::string> m;
  for (const auto& f : *rows) m[f.name] = f.target;
  return m;
}

std::map<std::string, std::string> in_memory(DbWorker& w, MirrorEngine& e) {
  return w.run_sync([&e](Connection&) { return e.memory; });
}

// Installs a commit veto on the worker's connection that fails every commit while `failing`
// is set; the test flips it from its own thread.
void install_veto(DbWorker& w, std::atomic<bool>& failing) {
  REQUIRE(w.run_sync([&failing](Connection& c) {
    c.set_commit_veto([&failing] { return failing.load(); });
    return Status::ok();
  }).is_ok());
}

}  // namespace

TEST_CASE("a failed commit acknowledges nothing and the recovery puts memory back in line with the disk") {
  FakeClock clock;
  DbWorker w(open_db(), clock);
  MirrorEngine e;
  w.add_recovery([&e](Connection& c, std::int64_t) { return e.reload(c); });
  w.start(nullptr);
  std::atomic<bool> failing{false};
  install_veto(w, failing);
  Outcomes out;
  w.submit(e.put("kept", out), [&out](const Status& s) { out.add("refused " + outcome(s)); });
  REQUIRE(out.wait_for(1) == std::vector<std::string>{"ok"});

  failing = true;
  w.submit(e.put("lost", out), [&out](const Status& s) { out.add("refused " + outcome(s)); });
  CHECK(out.wait_for(2).back() == "internal");
  failing = false;

  CHECK(on_disk(w) == std::map<std::string, std::string>{{"kept", "builtin:ok"}});
  CHECK(e.recoveries >= 1);
  CHECK(w.healthy());
  CHECK(in_memory(w, e) == on_disk(w));
  w.stop();
}

TEST_CASE("work deferred from a failed group hears the failure instead of success") {
  FakeClock clock;
  DbWorker w(open_db(), clock);
  w.start(nullptr);
  std::atomic<bool> failing{false};
  install_veto(w, failing);
  failing = true;
  Outcomes out;
  w.submit(
      [&w, &out](Connection& c) -> DbWorker::Done {
        w.defer([&out](const Status& commit) { out.add("deferred " + outcome(commit)); });
        Status s = put_function(c, {"f", "builtin:ok", 3000, 1});
        return [s, &out](const Status& commit) { out.add("done " + outcome(s.is_ok() ? commit : s)); };
      },
      [&out](const Status& s) { out.add("refused " + outcome(s)); });
  CHECK(out.wait_for(2) == std::vector<std::string>{"done internal", "deferred internal"});
  failing = false;
  w.stop();
}

TEST_CASE("while recovery keeps failing every job is refused without running, then work resumes") {
  FakeClock clock;
  DbWorker w(open_db(), clock);
  MirrorEngine e;
  w.add_recovery([&e](Connection& c, std::int64_t) { return e.reload(c); });
  w.start(nullptr);
  std::atomic<bool> failing{false};
  install_veto(w, failing);
  Outcomes out;
  e.recovery_fails = true;
  failing = true;
  w.submit(e.put("first", out), [&out](const Status& s) { out.add("refused " + outcome(s)); });
  REQUIRE(out.wait_for(1) == std::vector<std::string>{"internal"});
  CHECK_FALSE(w.healthy());

  std::atomic<bool> ran{false};
  w.submit(
      [&ran](Connection&) -> DbWorker::Done {
        ran = true;
        return nullptr;
      },
      [&out](const Status& s) { out.add("refused " + outcome(s)); });
  CHECK(out.wait_for(2).back() == "refused internal");
  CHECK_FALSE(ran);

  // The disk is readable and writable again: the worker's own retry recovers, without any job
  // to prompt it. (Commits must work again first: the tick the recovery runs commits, and a
  // vetoed commit there made the worker unhealthy again between the wait and the check.)
  failing = false;
  e.recovery_fails = false;
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (!w.healthy() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  REQUIRE(w.healthy());
  w.submit(e.put("second", out), [&out](const Status& s) { out.add("refused " + outcome(s)); });
  CHECK(out.wait_for(3).back() == "ok");
  CHECK(on_disk(w) == std::map<std::string, std::string>{{"second", "builtin:ok"}});
  CHECK(in_memory(w, e) == on_disk(w));
  w.stop();
}

TEST_CASE("a BEGIN that cannot take the write lock runs no job in autocommit") {
  const auto path = std::filesystem::temp_directory_path() / ("esmd-commit-rule-" + new_uuid() + ".sqlite3");
  {
    FakeClock clock;
    auto conn = open_db(path.string());
    REQUIRE(conn->exec("PRAGMA busy_timeout=0").is_ok());
    DbWorker w(std::move(conn), clock);
    w.start(nullptr);
    auto other = open_db(path.string());
    REQUIRE(other->exec("BEGIN IMMEDIATE").is_ok());

    Outcomes out;
    std::atomic<bool> ran{false};
    w.submit(
        [&ran](Connection& c) -> DbWorker::Done {
          ran = true;
          (void)put_function(c, {"autocommitted", "builtin:ok", 3000, 1});
          return nullptr;
        },
        [&out](const Status& s) { out.add("refused " + outcome(s)); });
    CHECK(out.wait_for(1) == std::vector<std::string>{"refused internal"});
    CHECK_FALSE(ran);

    REQUIRE(other->exec("ROLLBACK").is_ok());
    auto rows = load_functions(*other);
    REQUIRE(rows);
    CHECK(rows->empty());
    CHECK(w.run_sync([](Connection& c) { return load_functions(c); })->empty());
    w.stop();
  }
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix, ec);
}

TEST_CASE("a full database fails the write, acknowledges nothing, and takes writes again once it has room") {
  FakeClock clock;
  DbWorker w(open_db(), clock);
  MirrorEngine e;
  w.add_recovery([&e](Connection& c, std::int64_t) { return e.reload(c); });
  w.start(nullptr);
  // No page beyond the ones in use: the next insert that needs a page finds the disk full.
  REQUIRE(w.run_sync([](Connection& c) {
    Statement& q = c.prepare("PRAGMA page_count");
    const std::int64_t pages = q.step() ? q.int64(0) : 0;
    q.reset();
    return c.exec("PRAGMA max_page_count=" + std::to_string(pages));
  }).is_ok());
  Outcomes out;
  std::size_t n = 0;
  for (; n < 1000; ++n) {
    w.submit(e.put("f" + std::to_string(n) + std::string(200, 'x'), out), nullptr);
    if (out.wait_for(n + 1).back() != "ok") break;
  }
  REQUIRE(n < 1000);  // the disk filled up
  CHECK(out.wait_for(n + 1).back() == "internal");
  CHECK(on_disk(w).size() == n);
  CHECK(in_memory(w, e) == on_disk(w));
  REQUIRE(w.run_sync([](Connection& c) { return c.exec("PRAGMA max_page_count=1073741823"); }).is_ok());
  w.submit(e.put("after", out), nullptr);
  CHECK(out.wait_for(n + 2).back() == "ok");
  CHECK(on_disk(w).size() == n + 1);
  CHECK(in_memory(w, e) == on_disk(w));
  w.stop();
}
