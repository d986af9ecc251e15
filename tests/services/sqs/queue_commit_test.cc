// The commit rule on the queue engine, with failures injected: a SendMessage whose commit
// fails is not acknowledged, the worker refuses work until the engine reloaded itself from
// disk, and afterwards memory and disk hold the same messages (no ghost, no loss).
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include "core/uuid.h"
#include "tests/services/sqs/queue_fixture.h"

using namespace esm;
using namespace esm::testing;

namespace {

std::set<std::string> drain(QueueFixture& f, const std::string& queue) {
  std::set<std::string> bodies;
  for (;;) {
    auto got = f.receive_ok(queue, 10, 600);
    if (got.empty()) return bodies;
    for (auto& r : got) bodies.insert(r.message.body);
  }
}

struct TempDir {
  TempDir() : path(std::filesystem::temp_directory_path() / ("esmd-sqs-" + new_uuid())) {
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path path;
};

}  // namespace

TEST_CASE("a SendMessage whose commit fails is not acknowledged and leaves no ghost message after recovery") {
  std::atomic<bool> disk_down{false};
  QueueFixture f(":memory:", [&]() -> Status {
    return disk_down ? internal_error("the disk is still failing") : Status::ok();
  });
  f.create("orders");
  f.create("other");
  f.send_ok("orders", "kept");
  ReceiveOptions long_poll;
  long_poll.wait_ms = 20000;
  auto poll = f.receive_async("other", long_poll);

  disk_down = true;
  // The send changes the engine's memory; then the transaction ends behind the worker's back,
  // so its COMMIT fails.
  const Status acked = f.db.run_sync([&](Connection& c) -> Status {
    auto q = f.engine.find(kRegion, "orders");
    if (!q) return internal_error("no queue");
    SendInput in;
    in.body = "ghost";
    if (auto r = f.engine.send(c, **q, in, f.clock.now_ms()); !r) return internal_error("send refused");
    return c.exec("ROLLBACK");
  });
  CHECK_FALSE(acked.is_ok());

  // While the engines cannot reload, every job is refused.
  const Status refused = f.db.run_sync([&](Connection& c) -> Status {
    auto q = f.engine.find(kRegion, "orders");
    SendInput in;
    in.body = "refused";
    if (q && f.engine.send(c, **q, in, f.clock.now_ms())) return Status::ok();
    return internal_error("send failed");
  });
  CHECK(refused.code() == Code::kInternal);
  CHECK_FALSE(f.db.healthy());
  CHECK(poll.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);

  disk_down = false;
  CHECK(f.rows("orders") == 1);  // the first job after the disk came back recovers first
  CHECK(f.db.healthy());
  REQUIRE(poll.wait_for(kWaitDeadline) == std::future_status::ready);
  auto answered = poll.get();
  REQUIRE(!answered);
  CHECK(answered.error().kind == ErrorKind::kInternal);

  CHECK(f.messages_in_memory("orders") == 1);
  CHECK(drain(f, "orders") == std::set<std::string>{"kept"});
}

TEST_CASE("on a full disk no send is acknowledged that is not on disk, and memory matches disk") {
  TempDir dir;
  QueueFixture f((dir.path / "q.sqlite3").string());
  f.create("orders");
  // Leave room for a few pages more than the database has now.
  REQUIRE(f.db.run_sync([](Connection& c) -> Status {
                storage::Statement& st = c.prepare("PRAGMA page_count");
                if (!st.step()) return internal_error("no page_count");
                const std::int64_t pages = st.int64(0);
                st.reset();
                return c.exec("PRAGMA max_page_count = " + std::to_string(pages + 8));
              }).is_ok());
  std::set<std::string> acked;
  bool full = false;
  for (int i = 0; i < 500 && !full; ++i) {
    const std::string body = "m" + std::to_string(i) + std::string(2000, 'x');
    const Status s = f.db.run_sync([&](Connection& c) -> Status {
      auto q = f.engine.find(kRegion, "orders");
      if (!q) return internal_error("no queue");
      SendInput in;
      in.body = body;
      auto r = f.engine.send(c, **q, in, f.clock.now_ms());
      if (!r) return internal_error(sqs::kind_name(r.error().kind));
      return Status::ok();
    });
    if (s.is_ok()) acked.insert(body);
    else full = true;
  }
  REQUIRE(full);
  REQUIRE_FALSE(acked.empty());
  // The disk has room again.
  REQUIRE(f.db.run_sync([](Connection& c) { return c.exec("PRAGMA max_page_count = 1073741823"); }).is_ok());
  CHECK(f.rows("orders") == static_cast<std::int64_t>(acked.size()));
  CHECK(f.messages_in_memory("orders") == acked.size());
  REQUIRE(f.db.run_sync([&](Connection& c) { return f.engine.recover(c, f.clock.now_ms()); }).is_ok());
  CHECK(f.messages_in_memory("orders") == acked.size());
  std::set<std::string> got = drain(f, "orders");
  CHECK(got == acked);
}
