// The Kafka log engine: offsets, whole-batch reads, idempotent producers, timestamps,
// retention, topic rules, waiters and the commit rule, on a `:memory:` or file database.

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>

#include "services/kafka/log_engine.h"
#include "services/kafka/record_batch.h"
#include "storage/db_worker.h"
#include "tests/fakes/fake_clock.h"
#include "tests/services/kafka/batch_builder.h"

using namespace esm::kafka;
using esm::Status;
using esm::storage::Connection;
using esm::storage::DbWorker;
using esm::testing::BatchSpec;
using esm::testing::build_batch;
using esm::testing::FakeClock;
using esm::testing::values;

namespace {

std::unique_ptr<Connection> open_db(const std::string& path) {
  auto c = Connection::open(path, esm::storage::Durability::kNormal);
  REQUIRE(c);
  REQUIRE(esm::storage::migrate(**c).is_ok());
  return std::move(c).value();
}

struct Fixture {
  explicit Fixture(const std::string& path = ":memory:") : db(open_db(path), clock), log(db) {
    REQUIRE(db.run_sync([&](Connection& c) { return log.load(c); }).is_ok());
    db.add_recovery([this](Connection& c, std::int64_t) { return log.recover(c); });
    db.start([this](Connection& c, std::int64_t now) { return log.tick(c, now); });
  }
  ~Fixture() { db.stop(); }

  Topic* create(const std::string& name, int partitions = 1, std::map<std::string, std::string> configs = {}) {
    auto t = db.run_sync([&](Connection& c) -> esm::Result<Topic*> {
      auto made = log.create_topic(c, name, partitions, 1, configs, false, clock.now_ms());
      if (!made) return esm::internal_error("create failed");
      return *made;
    });
    REQUIRE(t);
    return *t;
  }
  esm::Expected<LogEngine::Appended, LogError> append(const std::string& topic, int partition, const std::string& records) {
    return db.run_sync([&](Connection& c) -> esm::Result<esm::Expected<LogEngine::Appended, LogError>> {
      return esm::Expected<LogEngine::Appended, LogError>(log.append(c, *log.find(topic), partition, records, clock.now_ms()));
    }).value();
  }
  LogEngine::Read read(const std::string& topic, std::int64_t offset, std::size_t max_bytes = 1 << 20) {
    return db.run_sync([&](Connection& c) -> esm::Result<LogEngine::Read> {
      return log.read(c, topic, 0, offset, max_bytes);
    }).value();
  }
  std::int64_t base_of(const std::string& topic, const BatchSpec& spec) {
    auto a = append(topic, 0, build_batch(spec));
    REQUIRE(a);
    return a->base_offset;
  }

  FakeClock clock;
  DbWorker db;
  LogEngine log;
};

std::vector<std::string> read_values(const LogEngine::Read& r) {
  std::vector<std::string> out;
  auto batches = parse_batches(r.records);
  REQUIRE(batches);
  for (const auto& b : *batches) {
    auto records = decode_records(std::string_view(r.records).substr(b.position, b.size));
    REQUIRE(records);
    for (const auto& rec : *records) out.push_back(std::to_string(rec.offset) + ":" + rec.value.value_or("null"));
  }
  return out;
}

}  // namespace

TEST_CASE("appends get consecutive offsets and a read returns whole batches with valid CRCs") {
  Fixture f;
  f.create("t");
  CHECK(f.base_of("t", values(3)) == 0);
  CHECK(f.base_of("t", values(2, 3)) == 3);
  CHECK(f.log.find("t")->partitions[0].next_offset == 5);
  // Offset 4 is inside the second batch: the whole batch comes back, from its base offset.
  auto r = f.read("t", 4);
  CHECK(r.error == LogError::kNone);
  CHECK(r.high_watermark == 5);
  CHECK(read_values(r) == std::vector<std::string>{"3:v3", "4:v4"});
  CHECK(read_values(f.read("t", 0)) == std::vector<std::string>{"0:v0", "1:v1", "2:v2", "3:v3", "4:v4"});
}

TEST_CASE("a read at the high watermark is empty and beyond it is out of range") {
  Fixture f;
  f.create("t");
  f.base_of("t", values(2));
  CHECK(f.read("t", 2).records.empty());
  CHECK(f.read("t", 2).error == LogError::kNone);
  CHECK(f.read("t", 3).error == LogError::kOffsetOutOfRange);
  CHECK(f.read("nope", 0).error == LogError::kUnknownTopicOrPartition);
}

TEST_CASE("a read returns at least one batch however small its byte limit") {
  Fixture f;
  f.create("t");
  f.base_of("t", values(3));
  f.base_of("t", values(3, 3));
  CHECK(read_values(f.read("t", 0, 1)).size() == 3);
}

TEST_CASE("a corrupt batch, an oversized batch and a transactional batch are refused and nothing is written") {
  Fixture f;
  f.create("small", 1, {{"max.message.bytes", "100"}});
  std::string good = build_batch(values(1));
  std::string bad = good;
  bad[bad.size() - 1] ^= 1;
  CHECK(f.append("small", 0, bad).error() == LogError::kCorruptMessage);
  CHECK(f.append("small", 0, good + bad).error() == LogError::kCorruptMessage);
  CHECK(f.append("small", 0, build_batch(values(20))).error() == LogError::kMessageTooLarge);
  CHECK(f.append("small", 0, "").error() == LogError::kCorruptMessage);
  CHECK(f.append("small", 1, good).error() == LogError::kUnknownTopicOrPartition);
  CHECK(f.log.find("small")->partitions[0].next_offset == 0);
}

TEST_CASE("an idempotent producer's retried batch is answered with its first offset and not written again") {
  Fixture f;
  f.create("t");
  BatchSpec a = values(2);
  a.producer_id = 7, a.producer_epoch = 0, a.base_sequence = 0;
  BatchSpec b = values(3, 2);
  b.producer_id = 7, b.producer_epoch = 0, b.base_sequence = 2;
  CHECK(f.base_of("t", a) == 0);
  CHECK(f.base_of("t", b) == 2);
  CHECK(f.base_of("t", a) == 0);  // a retry of an older batch, still among the last five
  CHECK(f.base_of("t", b) == 2);
  CHECK(f.log.find("t")->partitions[0].next_offset == 5);
}

TEST_CASE("an idempotent producer's gap, stale epoch and new epoch follow Kafka's sequence rules") {
  Fixture f;
  f.create("t");
  BatchSpec first = values(2);
  first.producer_id = 3, first.producer_epoch = 1, first.base_sequence = 0;
  REQUIRE(f.base_of("t", first) == 0);
  BatchSpec gap = values(1);
  gap.producer_id = 3, gap.producer_epoch = 1, gap.base_sequence = 5;
  CHECK(f.append("t", 0, build_batch(gap)).error() == LogError::kOutOfOrderSequence);
  BatchSpec stale = values(1);
  stale.producer_id = 3, stale.producer_epoch = 0, stale.base_sequence = 2;
  CHECK(f.append("t", 0, build_batch(stale)).error() == LogError::kInvalidProducerEpoch);
  BatchSpec bumped_late = values(1);
  bumped_late.producer_id = 3, bumped_late.producer_epoch = 2, bumped_late.base_sequence = 4;
  CHECK(f.append("t", 0, build_batch(bumped_late)).error() == LogError::kOutOfOrderSequence);
  BatchSpec bumped = values(1);
  bumped.producer_id = 3, bumped.producer_epoch = 2, bumped.base_sequence = 0;
  CHECK(f.base_of("t", bumped) == 2);
  // A producer unknown to the partition may start at any sequence.
  BatchSpec other = values(1);
  other.producer_id = 9, other.producer_epoch = 0, other.base_sequence = 41;
  CHECK(f.base_of("t", other) == 3);
}

TEST_CASE("producer state, offsets and topics survive a restart, so a retry after it is still a duplicate") {
  const auto path = std::filesystem::temp_directory_path() / ("esmd-kafka-log-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  BatchSpec a = values(2);
  a.producer_id = 1, a.producer_epoch = 0, a.base_sequence = 0;
  {
    Fixture f(path.string());
    f.create("t", 2, {{"retention.ms", "-1"}});
    REQUIRE(f.base_of("t", a) == 0);
  }
  {
    Fixture f(path.string());
    const Topic* t = f.log.find("t");
    REQUIRE(t);
    CHECK(t->partitions.size() == 2);
    CHECK(t->config.retention_ms == -1);
    CHECK(f.base_of("t", a) == 0);
    CHECK(t->partitions[0].next_offset == 2);
    auto id1 = f.db.run_sync([&](Connection& c) -> esm::Result<std::int64_t> { return *f.log.new_producer_id(c); });
    CHECK(*id1 == 0);
  }
  {
    Fixture f(path.string());
    auto id2 = f.db.run_sync([&](Connection& c) -> esm::Result<std::int64_t> { return *f.log.new_producer_id(c); });
    CHECK(*id2 == 1);  // never handed out twice
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

TEST_CASE("the offset for a time is the first record at or after it, looking inside the batch") {
  Fixture f;
  f.create("t");
  BatchSpec a = values(4);
  a.base_timestamp = 1000, a.timestamp_step = 10;  // 1000 1010 1020 1030
  BatchSpec b = values(2, 4);
  b.base_timestamp = 2000, b.timestamp_step = 10;  // 2000 2010
  f.base_of("t", a);
  f.base_of("t", b);
  auto at = [&](std::int64_t ts) {
    return f.db.run_sync([&](Connection& c) -> esm::Result<LogEngine::TimeOffset> {
      return *f.log.offset_for_time(c, *f.log.find("t"), 0, ts);
    }).value();
  };
  CHECK(at(0).offset == 0);
  CHECK(at(1015).offset == 2);
  CHECK(at(1015).timestamp == 1020);
  CHECK(at(1031).offset == 4);
  CHECK(at(2010).offset == 5);
  CHECK(at(2011).offset == -1);
  CHECK(at(2011).timestamp == -1);
}

TEST_CASE("retention deletes batches retention.ms after their append and moves the log start") {
  Fixture f;
  f.create("t", 1, {{"retention.ms", "60000"}});
  f.base_of("t", values(2));
  f.clock.advance_ms(30000);
  f.base_of("t", values(2, 2));
  f.clock.advance_ms(31000);  // the first batch is 61 s old, the second 31 s
  f.db.poke();
  REQUIRE(f.db.run_sync([](Connection&) { return Status::ok(); }).is_ok());
  auto start = [&] { return f.db.run_sync([&](Connection&) -> esm::Result<std::int64_t> {
                       return f.log.find("t")->partitions[0].log_start; }).value(); };
  // The tick runs at the start of a group; a group after the poke has run it.
  REQUIRE(f.db.run_sync([](Connection&) { return Status::ok(); }).is_ok());
  CHECK(start() == 2);
  CHECK(f.read("t", 0).error == LogError::kOffsetOutOfRange);
  CHECK(read_values(f.read("t", 2)) == std::vector<std::string>{"2:v2", "3:v3"});
  // Old record timestamps alone delete nothing: retention counts from the append.
  BatchSpec old = values(1, 4);
  old.base_timestamp = 1000;
  f.base_of("t", old);
  REQUIRE(f.db.run_sync([](Connection&) { return Status::ok(); }).is_ok());
  CHECK(start() == 2);
}

TEST_CASE("topics follow Kafka's name, partition, replication and config rules") {
  Fixture f;
  auto create = [&](const std::string& name, int partitions, int rf, std::map<std::string, std::string> cfg = {}) {
    return f.db.run_sync([&](Connection& c) -> esm::Result<LogError> {
      auto made = f.log.create_topic(c, name, partitions, rf, cfg, false, 0);
      return made ? LogError::kNone : made.error();
    }).value();
  };
  CHECK(create("ok.topic_1-x", 3, 1) == LogError::kNone);
  CHECK(create("ok.topic_1-x", 3, 1) == LogError::kTopicAlreadyExists);
  CHECK(create("bad name", 1, 1) == LogError::kInvalidTopic);
  CHECK(create("..", 1, 1) == LogError::kInvalidTopic);
  CHECK(create(std::string(250, 'a'), 1, 1) == LogError::kInvalidTopic);
  CHECK(create(std::string(249, 'a'), 1, 1) == LogError::kNone);
  CHECK(create("zero", 0, 1) == LogError::kInvalidPartitions);
  CHECK(create("defaults", -1, -1) == LogError::kNone);
  CHECK(f.log.find("defaults")->partitions.size() == 1);
  CHECK(create("rf3", 1, 3) == LogError::kInvalidReplicationFactor);
  CHECK(create("cfg", 1, 1, {{"no.such.config", "1"}}) == LogError::kInvalidConfig);
  CHECK(create("cfg", 1, 1, {{"retention.ms", "soon"}}) == LogError::kInvalidConfig);
  CHECK(create("cfg", 1, 1, {{"message.timestamp.type", "LogAppendTime"}}) == LogError::kNone);
  CHECK(f.log.find("cfg")->config.log_append_time);
}

TEST_CASE("a LogAppendTime topic stamps the batch with the append time and keeps its CRC valid") {
  Fixture f;
  f.create("t", 1, {{"message.timestamp.type", "LogAppendTime"}});
  auto a = f.append("t", 0, build_batch(values(2)));
  REQUIRE(a);
  CHECK(a->log_append_time == f.clock.now_ms());
  auto r = f.read("t", 0);
  auto batches = parse_batches(r.records);
  REQUIRE(batches);
  CHECK((*batches)[0].log_append_time());
  CHECK((*batches)[0].max_timestamp == f.clock.now_ms());
}

TEST_CASE("a waiter is called after the commit of an append to its partition, and not for another") {
  Fixture f;
  f.create("t", 2);
  std::atomic<int> calls{0};
  LogEngine::WaitHandle h;
  REQUIRE(f.db.run_sync([&](Connection&) {
    h = f.log.wait_for_data(*f.log.find("t"), 0, [&] { ++calls; });
    return Status::ok();
  }).is_ok());
  // A job after the append's group: its deferred work (the waiter) has run by then.
  auto barrier = [&] { REQUIRE(f.db.run_sync([](Connection&) { return Status::ok(); }).is_ok()); };
  REQUIRE(f.append("t", 1, build_batch(values(1))));
  barrier();
  CHECK(calls == 0);
  REQUIRE(f.append("t", 0, build_batch(values(1))));
  barrier();
  CHECK(calls == 1);
  REQUIRE(f.append("t", 0, build_batch(values(1))));
  barrier();
  CHECK(calls == 1);  // once only
}

TEST_CASE("a failed commit leaves memory as the disk has it: the offsets are not taken") {
  Fixture f;
  f.create("t");
  f.base_of("t", values(2));
  std::atomic<bool> veto{false};
  REQUIRE(f.db.run_sync([&](Connection& c) {
    c.set_commit_veto([&] { return veto.load(); });
    return Status::ok();
  }).is_ok());
  veto = true;
  auto failed = f.db.run_sync([&](Connection& c) -> esm::Result<bool> {
    return static_cast<bool>(f.log.append(c, *f.log.find("t"), 0, build_batch(values(5, 100)), 0));
  });
  CHECK_FALSE(failed.is_ok());
  veto = false;
  // The worker reloaded the engine before this group: the failed append never happened.
  CHECK(f.base_of("t", values(1, 2)) == 2);
  CHECK(read_values(f.read("t", 0)) == std::vector<std::string>{"0:v0", "1:v1", "2:v2"});
}

TEST_CASE("deleting a topic removes its records and its groups' offsets, and a new topic of that name starts at 0") {
  Fixture f;
  f.create("t");
  f.base_of("t", values(3));
  REQUIRE(f.db.run_sync([&](Connection& c) -> esm::Result<bool> {
    return static_cast<bool>(f.log.commit_offset(c, "g", {"t", 0, 3, "meta"}, 0));
  }).value());
  REQUIRE(f.db.run_sync([&](Connection& c) -> esm::Result<bool> {
    return static_cast<bool>(f.log.delete_topic(c, "t"));
  }).value());
  CHECK(f.log.find("t") == nullptr);
  auto offsets = f.db.run_sync([&](Connection& c) -> esm::Result<std::size_t> {
    return f.log.committed_offsets(c, "g")->size();
  });
  CHECK(*offsets == 0);
  f.create("t");
  CHECK(f.base_of("t", values(1)) == 0);
}
