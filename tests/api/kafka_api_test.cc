// The Kafka front-end end to end in one process: requests built as clients send them, answered
// through the real log engine (an in-memory database) and group coordinator (a fake scheduler).
// And a seeded mutation loop: every API's request truncated and corrupted thousands of times is
// answered or closed, once at most, never a crash (scripts/sanitize.sh runs it under ASan/UBSan).

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <atomic>
#include <map>
#include <mutex>
#include <random>

#include "api/kafka/kafka_api.h"
#include "api/kafka/wire.h"
#include "services/kafka/group_coordinator.h"
#include "services/kafka/log_engine.h"
#include "services/kafka/record_batch.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_scheduler.h"
#include "tests/fakes/memory_db.h"

using esm::api::KafkaApi;
using esm::api::KafkaOutcome;
using esm::api::kafka_wire::Reader;
using esm::api::kafka_wire::Writer;
using esm::storage::Connection;

namespace {

struct Answers {
  std::mutex mu;
  std::map<int, std::vector<KafkaOutcome>> by_request;
};

struct Broker {
  Broker() : db(clock), log(*db.worker), groups(scheduler), api(*db.worker, log, groups, clock, ioc.get_executor()) {
    REQUIRE(db.worker->run_sync([&](Connection& c) { return log.load(c); }).is_ok());
    db.worker->add_recovery([this](Connection& c, std::int64_t) { return log.recover(c); });
    db.start([this](Connection& c, std::int64_t now) { return log.tick(c, now); });
  }
  ~Broker() {
    groups.shutdown();
    db.worker->stop();
  }

  // Sends one frame; the answers arrive in answers.by_request[id].
  void send(int id, std::string frame) {
    api.handle(std::make_shared<const std::string>(std::move(frame)), "127.0.0.1", [this, id](KafkaOutcome out) {
      std::lock_guard lk(answers.mu);
      answers.by_request[id].push_back(std::move(out));
    });
  }
  // The one answer to a request that is answered by the time the database worker is idle.
  KafkaOutcome ask(std::string frame) {
    const int id = next_id++;
    send(id, std::move(frame));
    db.barrier();
    std::lock_guard lk(answers.mu);
    REQUIRE(answers.by_request[id].size() == 1);
    return answers.by_request[id][0];
  }

  esm::testing::FakeClock clock;
  esm::testing::FakeScheduler scheduler;
  esm::testing::MemoryDb db;
  boost::asio::io_context ioc;  // fetch deadlines are set on it; it is not run
  esm::kafka::LogEngine log;
  esm::kafka::GroupCoordinator groups;
  KafkaApi api;
  Answers answers;
  int next_id = 0;
};

std::string header(std::int16_t key, std::int16_t version, std::int32_t correlation = 7) {
  Writer w;
  w.i16(key).i16(version).i32(correlation).string("test-client");
  if (key == 18 && version >= 3) w.empty_tags();
  return w.take();
}

std::string batch(const std::string& value) {
  // One uncompressed record, no key, no headers.
  std::string rec;
  rec.push_back(0);                                   // attributes
  rec.push_back(0);                                   // timestamp delta
  rec.push_back(0);                                   // offset delta
  rec.push_back(1);                                   // key: null (-1 zigzag)
  rec.push_back(static_cast<char>(value.size() * 2)); // value length (zigzag)
  rec += value;
  rec.push_back(0);                                   // headers
  std::string records;
  records.push_back(static_cast<char>(rec.size() * 2));
  records += rec;
  Writer b;
  b.i64(0).i32(0).i32(-1).i8(2).i32(0).i16(0).i32(0).i64(1'700'000'000'000).i64(1'700'000'000'000);
  b.i64(-1).i16(-1).i32(-1).i32(1).raw(records);
  std::string out = b.take();
  const auto length = static_cast<std::uint32_t>(out.size() - 12);
  for (int i = 0; i < 4; ++i) out[8 + i] = static_cast<char>(length >> (8 * (3 - i)));
  const std::uint32_t crc = esm::kafka::crc32c(out.data() + 21, out.size() - 21);
  for (int i = 0; i < 4; ++i) out[17 + i] = static_cast<char>(crc >> (8 * (3 - i)));
  return out;
}

// One valid request of each API at the highest version esmd serves, as clients build them.
std::vector<std::string> templates() {
  std::vector<std::string> out;
  auto add = [&](std::int16_t key, std::int16_t version, Writer w) { out.push_back(header(key, version) + w.take()); };
  Writer w;
  w.null_string().i16(-1).i32(1000).array_length(1).string("t").array_length(1).i32(0).bytes(batch("hello"));
  add(0, 7, std::move(w));
  w = Writer();
  w.i32(-1).i32(0).i32(1).i32(1 << 20).i8(1).i32(0).i32(-1).array_length(1).string("t").array_length(1);
  w.i32(0).i32(-1).i64(0).i64(-1).i32(1 << 20).array_length(0).string("");
  add(1, 11, std::move(w));
  w = Writer();
  w.i32(-1).i8(1).array_length(1).string("t").array_length(1).i32(0).i32(-1).i64(-2);
  add(2, 5, std::move(w));
  w = Writer();
  w.array_length(1).string("t").boolean(true).boolean(false).boolean(false);
  add(3, 8, std::move(w));
  w = Writer();
  w.string("g").i32(-1).string("").null_string().array_length(1).string("t").array_length(1);
  w.i32(0).i64(1).i32(-1).nullable_string(std::string("meta"));
  add(8, 7, std::move(w));
  w = Writer();
  w.string("g").array_length(1).string("t").array_length(1).i32(0);
  add(9, 5, std::move(w));
  w = Writer();
  w.string("g").i8(0);
  add(10, 2, std::move(w));
  w = Writer();
  w.string("g").i32(10000).i32(10000).string("").null_string().string("consumer").array_length(1);
  w.string("range").bytes("subscription");
  add(11, 5, std::move(w));
  w = Writer();
  w.string("g").i32(1).string("m").null_string();
  add(12, 3, std::move(w));
  w = Writer();
  w.string("g").array_length(1).string("m").null_string();
  add(13, 3, std::move(w));
  w = Writer();
  w.string("g").i32(1).string("m").null_string().array_length(1).string("m").bytes("assignment");
  add(14, 3, std::move(w));
  w = Writer();
  w.array_length(1).string("g").boolean(false);
  add(15, 4, std::move(w));
  add(16, 2, Writer());
  w = Writer();
  w.compact_string("esmd-test").compact_string("1.0").empty_tags();
  add(18, 3, std::move(w));
  w = Writer();
  w.array_length(1).string("t2").i32(2).i16(1).array_length(0).array_length(1).string("retention.ms");
  w.nullable_string(std::string("60000")).i32(1000).boolean(false);
  add(19, 4, std::move(w));
  w = Writer();
  w.array_length(1).string("t2").i32(1000);
  add(20, 3, std::move(w));
  w = Writer();
  w.null_string().i32(1000);
  add(22, 1, std::move(w));
  w = Writer();
  w.array_length(1).i8(2).string("t").i32(-1).boolean(false).boolean(false);
  add(32, 3, std::move(w));
  w = Writer();
  w.array_length(1).string("g");
  add(42, 1, std::move(w));
  return out;
}

}  // namespace

TEST_CASE("ApiVersions advertises minimum 0 for every API, and an unknown version gets the v0-format error") {
  Broker b;
  for (std::int16_t v = 0; v <= 3; ++v) {
    std::string body = v == 3 ? Writer().compact_string("x").compact_string("1").empty_tags().take() : "";
    KafkaOutcome out = b.ask(header(18, v) + body);
    REQUIRE(out.kind == KafkaOutcome::Kind::kReply);
    Reader r(out.bytes);
    CHECK(r.i32() == 7);
    CHECK(r.i16() == 0);
    const std::int32_t n = v == 3 ? r.compact_array_length() : r.array_length();
    CHECK(n == 19);
    for (std::int32_t i = 0; i < n; ++i) {
      r.i16();
      CHECK(r.i16() == 0);
      r.i16();
      if (v == 3) r.skip_tags();
    }
    CHECK(r.ok());
  }
  KafkaOutcome out = b.ask(header(18, 9));
  REQUIRE(out.kind == KafkaOutcome::Kind::kReply);
  Reader r(out.bytes);
  CHECK(r.i32() == 7);
  CHECK(r.i16() == 35);  // UNSUPPORTED_VERSION
  CHECK(r.array_length() == 1);
  CHECK(r.i16() == 18);
  CHECK(r.i16() == 0);
  CHECK(r.i16() == 3);
  CHECK(r.remaining() == 0);
}

TEST_CASE("an unknown API, or a version below what esmd serves, closes the connection") {
  Broker b;
  CHECK(b.ask(header(99, 0)).kind == KafkaOutcome::Kind::kClose);
  CHECK(b.ask(header(0, 2)).kind == KafkaOutcome::Kind::kClose);   // Produce v2: the old message format
  CHECK(b.ask(header(1, 12)).kind == KafkaOutcome::Kind::kClose);  // Fetch v12: flexible, not offered
  CHECK(b.ask("\x00\x03").kind == KafkaOutcome::Kind::kClose);     // shorter than a header
}

TEST_CASE("a produced batch is fetched back byte for byte with the broker's offset written in") {
  Broker b;
  auto all = templates();
  REQUIRE(b.ask(all[3]).kind == KafkaOutcome::Kind::kReply);  // Metadata creates "t"
  for (int i = 0; i < 2; ++i) {
    KafkaOutcome produced = b.ask(all[0]);
    REQUIRE(produced.kind == KafkaOutcome::Kind::kReply);
    Reader r(produced.bytes);
    r.i32();
    REQUIRE(r.array_length() == 1);
    CHECK(r.string() == "t");
    REQUIRE(r.array_length() == 1);
    CHECK(r.i32() == 0);
    CHECK(r.i16() == 0);
    CHECK(r.i64() == i);  // base offset
  }
  KafkaOutcome fetched = b.ask(all[1]);
  REQUIRE(fetched.kind == KafkaOutcome::Kind::kReply);
  Reader r(fetched.bytes);
  r.i32();
  r.i32();
  CHECK(r.i16() == 0);
  r.i32();
  REQUIRE(r.array_length() == 1);
  CHECK(r.string() == "t");
  REQUIRE(r.array_length() == 1);
  CHECK(r.i32() == 0);
  CHECK(r.i16() == 0);
  CHECK(r.i64() == 2);  // high watermark
  CHECK(r.i64() == 2);  // last stable offset
  CHECK(r.i64() == 0);  // log start
  CHECK(r.array_length() == 0);
  CHECK(r.i32() == -1);
  std::string records(r.bytes());
  std::string expected = batch("hello");
  CHECK(records.size() == 2 * expected.size());
  std::string second = records.substr(expected.size());
  CHECK(second.substr(12) == expected.substr(12));  // all but BaseOffset and Length
  CHECK(second.substr(0, 8) == std::string("\0\0\0\0\0\0\0\x01", 8));
  CHECK(esm::kafka::parse_batches(records));
}

TEST_CASE("every API's request, truncated or corrupted, is answered or closed at most once and never crashes") {
  Broker b;
  const auto all = templates();
  std::mt19937 rng(20261202);
  int id = 0;
  for (const std::string& t : all) b.send(id++, t);  // each valid once, so topics and groups exist
  for (int round = 0; round < 250; ++round) {
    for (const std::string& t : all) {
      std::string m = t;
      switch (rng() % 4) {
        case 0:
          m.resize(rng() % m.size());
          break;
        case 1:
          for (int k = 0; k < 3; ++k) m[10 + rng() % (m.size() - 10)] = static_cast<char>(rng());
          break;
        case 2: {  // an int32 somewhere set to an extreme length
          const std::size_t at = 10 + rng() % (m.size() - 10);
          const std::uint32_t v = rng() % 2 ? 0x7fffffffu : 0xfffffff0u;
          for (int k = 0; k < 4 && at + k < m.size(); ++k) m[at + k] = static_cast<char>(v >> (8 * (3 - k)));
          break;
        }
        default:
          m += std::string(rng() % 64, static_cast<char>(rng()));
          break;
      }
      b.send(id++, std::move(m));
    }
    if (round % 50 == 0) b.db.barrier();
  }
  b.db.barrier();
  std::lock_guard lk(b.answers.mu);
  int answered = 0;
  for (const auto& [request, outs] : b.answers.by_request) {
    CHECK(outs.size() <= 1);
    answered += static_cast<int>(outs.size());
  }
  // Only long polls (fetches waiting for data, joins waiting for a rebalance) may still wait.
  CHECK(answered > id * 9 / 10);
}
