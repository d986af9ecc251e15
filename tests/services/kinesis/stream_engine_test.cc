#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "api/kinesis/wire.h"
#include "core/codec.h"
#include "core/uuid.h"
#include "storage/db_worker.h"
#include "services/kinesis/stream_engine.h"
#include "tests/fakes/fake_clock.h"

using namespace esm;
using namespace esm::kinesis;
using namespace esm::storage;
using esm::api::kinesis_wire::describe;
using esm::testing::FakeClock;

namespace {

constexpr auto kDeadline = std::chrono::seconds(5);
constexpr std::int64_t kHourMs = 3600 * 1000;

std::unique_ptr<Connection> fresh_db(const std::string& path = ":memory:") {
  auto c = Connection::open(path, Durability::kNormal);
  REQUIRE(c);
  REQUIRE(migrate(**c).is_ok());
  return std::move(c).value();
}

// A started DbWorker with a StreamEngine on it; every engine call goes through run_sync, as the
// API's jobs do, so deferred callbacks run after a real commit.
struct Fixture {
  explicit Fixture(const std::string& path = ":memory:") : db(fresh_db(path), clock), engine(db, "123456789012") {
    REQUIRE(db.run_sync([&](Connection& c) { return engine.load(c); }).is_ok());
    db.start([this](Connection& c, std::int64_t now) { return engine.tick(c, now); });
  }
  // The worker calls the engine's tick: it stops before the engine goes.
  ~Fixture() { db.stop(); }

  Stream& create(const std::string& name, int shards) {
    auto s = db.run_sync([&](Connection& c) {
      return engine.create_stream(c, "us-east-1", name, shards, "PROVISIONED", {}, clock.now_ms());
    });
    REQUIRE(s);
    return **s;
  }
  StreamEngine::PutResult put(Stream& s, const std::string& key, const std::string& data = "x",
                              const std::string& explicit_hash = "") {
    auto r = db.run_sync([&](Connection& c) {
      return engine.put(c, s, StreamEngine::PutInput{key, data, explicit_hash}, clock.now_ms());
    });
    REQUIRE(r);
    return *r;
  }

  FakeClock clock;
  DbWorker db;
  StreamEngine engine;
};

// The shard a key lands in when N divides 2^128 into equal ranges: the top bits of its MD5.
int reference_shard_of_4(const std::string& key) {
  const char top = md5_hex(key)[0];
  const int nibble = top <= '9' ? top - '0' : top - 'a' + 10;
  return nibble >> 2;
}

}  // namespace

TEST_CASE("new shards split the 128-bit hash-key space as AWS does") {
  Fixture f;
  Stream& s = f.create("three", 3);
  REQUIRE(s.shards.size() == 3);
  CHECK(s.shards[0].hash_start == "0");
  CHECK(s.shards[0].hash_end == "113427455640312821154458202477256070484");
  CHECK(s.shards[1].hash_start == "113427455640312821154458202477256070485");
  CHECK(s.shards[1].hash_end == "226854911280625642308916404954512140969");
  CHECK(s.shards[2].hash_start == "226854911280625642308916404954512140970");
  CHECK(s.shards[2].hash_end == "340282366920938463463374607431768211455");
  CHECK(s.shards[1].id == "shardId-000000000001");
  Stream& four = f.create("four", 4);
  CHECK(four.shards[1].hash_start == "85070591730234615865843651857942052864");  // 2^126
}

TEST_CASE("partition keys go to the shard whose range holds their MD5") {
  Fixture f;
  Stream& s = f.create("hashed", 4);
  for (int i = 0; i < 200; ++i) {
    const std::string key = "key-" + std::to_string(i);
    CHECK(f.put(s, key).shard == reference_shard_of_4(key));
  }
}

TEST_CASE("an explicit hash key overrides the partition key, range ends included") {
  Fixture f;
  Stream& s = f.create("explicit", 3);
  CHECK(f.put(s, "k", "x", "0").shard == 0);
  CHECK(f.put(s, "k", "x", "113427455640312821154458202477256070484").shard == 0);
  CHECK(f.put(s, "k", "x", "113427455640312821154458202477256070485").shard == 1);
  CHECK(f.put(s, "k", "x", "340282366920938463463374607431768211455").shard == 2);
  CHECK_FALSE(StreamEngine::validate_put({"k", "x", "340282366920938463463374607431768211456"}).has_value());
}

TEST_CASE("a record over 1 MiB with its partition key is refused") {
  CHECK(StreamEngine::validate_put({"k", std::string(1048575, 'a'), ""}).has_value());
  const auto s = StreamEngine::validate_put({"kk", std::string(1048575, 'a'), ""});
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error().kind == ErrorKind::kRecordTooLarge);
  CHECK(describe(s.error()).type == esm::api::kinesis_wire::ErrorType::kInvalidArgument);
}

TEST_CASE("sequence numbers are 56 digits, grow with the record index and parse back") {
  Fixture f;
  Stream& s = f.create("seq", 2);
  std::string last;
  for (int i = 0; i < 50; ++i) {
    const auto r = f.put(s, "same-key");
    CHECK(r.index == i);
    CHECK(r.sequence_number.size() == 56);
    CHECK(r.sequence_number.starts_with("49"));
    CHECK(r.sequence_number > last);
    last = r.sequence_number;
    auto parts = parse_sequence_number(r.sequence_number);
    REQUIRE(parts);
    CHECK(parts->stream_id == s.id);
    CHECK(parts->shard == r.shard);
    CHECK(parts->record_index == i);
  }
  CHECK(sequence_number_of(s.id, 1, 1000000) > sequence_number_of(s.id, 1, 999999));
}

TEST_CASE("a mangled or invented sequence number does not parse") {
  Fixture f;
  Stream& s = f.create("mangled", 1);
  std::string seq = f.put(s, "k").sequence_number;
  CHECK(parse_sequence_number(seq));
  seq[30] = seq[30] == '9' ? '8' : '9';
  CHECK_FALSE(parse_sequence_number(seq));
  CHECK_FALSE(parse_sequence_number("49" + std::string(54, '0')));
  CHECK_FALSE(parse_sequence_number("12345"));
}

TEST_CASE("a sequence number whose record index is past INT64_MAX does not parse, even with valid check digits") {
  // The check digits are FNV-1a of the first 43 digits, mod 10^13, as esmd writes them.
  auto with_check = [](const std::string& head) {
    std::uint64_t h = 1469598103934665603ULL;
    for (char ch : head) {
      h ^= static_cast<unsigned char>(ch);
      h *= 1099511628211ULL;
    }
    char check[16];
    std::snprintf(check, sizeof check, "%013llu", static_cast<unsigned long long>(h % 10000000000000ULL));
    return head + check;
  };
  const std::string prefix = "49" + std::string(14, '0') + "1" + "000000" + "0";
  auto max = parse_sequence_number(with_check(prefix + "9223372036854775807"));
  REQUIRE(max);
  CHECK(max->record_index == INT64_MAX);
  CHECK_FALSE(parse_sequence_number(with_check(prefix + "9223372036854775808")));
  CHECK_FALSE(parse_sequence_number(with_check(prefix + "9999999999999999999")));
}

TEST_CASE("read returns records from an index, bounded by count and bytes, and how far behind it is") {
  Fixture f;
  Stream& s = f.create("read", 1);
  for (int i = 0; i < 10; ++i) {
    f.put(s, "k", std::string(100, static_cast<char>('a' + i)));
    f.clock.advance_ms(1000);
  }
  const std::int64_t now = f.clock.now_ms();
  ShardRead r = f.engine.read(s, 0, 0, 3, 1 << 20, now);
  REQUIRE(r.records.size() == 3);
  CHECK(r.records[0].index == 0);
  CHECK(r.records[2].data == std::string(100, 'c'));
  CHECK(r.next_index == 3);
  CHECK(r.latest_index == 10);
  CHECK(r.millis_behind_latest == 7000);  // record 3 arrived 7 s ago

  r = f.engine.read(s, 0, 3, 100, 250, now);  // 101 bytes a record: two fit
  CHECK(r.records.size() == 2);
  r = f.engine.read(s, 0, 3, 100, 10, now);  // one record always, however large
  CHECK(r.records.size() == 1);

  r = f.engine.read(s, 0, 8, 100, 1 << 20, now);
  CHECK(r.records.size() == 2);
  CHECK(r.next_index == 10);
  CHECK(r.millis_behind_latest == 0);

  r = f.engine.read(s, 0, 10, 100, 1 << 20, now);  // at the tip
  CHECK(r.records.empty());
  CHECK(r.next_index == 10);
}

TEST_CASE("index_at_timestamp finds the first record that arrived at or after a time") {
  Fixture f;
  Stream& s = f.create("ts", 1);
  const std::int64_t t0 = f.clock.now_ms();
  for (int i = 0; i < 5; ++i) {
    f.put(s, "k");
    f.clock.advance_ms(1000);
  }
  CHECK(f.engine.index_at_timestamp(s, 0, t0 - 5000) == 0);
  CHECK(f.engine.index_at_timestamp(s, 0, t0) == 0);
  CHECK(f.engine.index_at_timestamp(s, 0, t0 + 1) == 1);
  CHECK(f.engine.index_at_timestamp(s, 0, t0 + 2000) == 2);
  CHECK(f.engine.index_at_timestamp(s, 0, t0 + 60000) == 5);
}

TEST_CASE("the tick drops records past retention, and reads start at the first retained one") {
  Fixture f;
  Stream& s = f.create("trim", 1);
  for (int i = 0; i < 3; ++i) f.put(s, "k");
  f.clock.advance_ms(2 * kHourMs);
  for (int i = 0; i < 2; ++i) f.put(s, "k");
  f.clock.advance_ms(22 * kHourMs + 1);  // the first three are now 24 h old
  f.db.run_sync([&](Connection& c) { return f.engine.tick(c, f.clock.now_ms()); });
  REQUIRE(s.shards[0].records.size() == 2);
  CHECK(s.shards[0].first_index() == 3);
  const ShardRead r = f.engine.read(s, 0, 0, 100, 1 << 20, f.clock.now_ms());
  REQUIRE(r.records.size() == 2);
  CHECK(r.records[0].index == 3);
  CHECK(f.put(s, "k").index == 5);  // indexes are never reused
}

TEST_CASE("a shorter retention trims at the next tick") {
  Fixture f;
  Stream& s = f.create("shorter", 1);
  REQUIRE(f.db.run_sync([&](Connection& c) { return f.engine.set_retention(c, s, 48, true); }).has_value());
  f.put(s, "k");
  f.clock.advance_ms(30 * kHourMs);
  f.db.run_sync([&](Connection& c) { return f.engine.tick(c, f.clock.now_ms()); });
  CHECK(s.shards[0].records.size() == 1);
  REQUIRE(f.db.run_sync([&](Connection& c) { return f.engine.set_retention(c, s, 24, false); }).has_value());
  f.db.run_sync([&](Connection& c) { return f.engine.tick(c, f.clock.now_ms()); });
  CHECK(s.shards[0].records.empty());
  CHECK_FALSE(f.db.run_sync([&](Connection& c) { return f.engine.set_retention(c, s, 12, false); }).has_value());
  CHECK_FALSE(f.db.run_sync([&](Connection& c) { return f.engine.set_retention(c, s, 30, false); }).has_value());
  CHECK_FALSE(f.db.run_sync([&](Connection& c) { return f.engine.set_retention(c, s, 8761, true); }).has_value());
}

TEST_CASE("a waiter is called after the commit that adds its record, once") {
  Fixture f;
  Stream& s = f.create("wait", 2);
  // A key that lands in shard 1.
  std::string key;
  for (int i = 0; key.empty(); ++i)
    if (f.engine.shard_for(s, {"k" + std::to_string(i), "", ""}) == 1) key = "k" + std::to_string(i);
  auto called = std::make_shared<std::promise<void>>();
  auto count = std::make_shared<int>(0);
  f.db.run_sync([&](Connection&) {
    f.engine.wait_for_records(s, 1, 0, "poller-a", [called, count] {
      if ((*count)++ == 0) called->set_value();
    });
    return 0;
  });
  auto fut = called->get_future();
  CHECK(fut.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
  // A record in the other shard does not wake it.
  std::string other;
  for (int i = 0; other.empty(); ++i)
    if (f.engine.shard_for(s, {"o" + std::to_string(i), "", ""}) == 0) other = "o" + std::to_string(i);
  f.put(s, other);
  CHECK(fut.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
  f.put(s, key);
  REQUIRE(fut.wait_for(kDeadline) == std::future_status::ready);
  f.put(s, key);
  f.db.run_sync([](Connection&) { return 0; });
  CHECK(*count == 1);
}

TEST_CASE("a waiter for a record already there is called at once, and a cancelled one never") {
  Fixture f;
  Stream& s = f.create("waited", 1);
  f.put(s, "k");
  auto now = std::make_shared<std::promise<void>>();
  auto cancelled = std::make_shared<int>(0);
  f.db.run_sync([&](Connection&) {
    f.engine.wait_for_records(s, 0, 0, "a", [now] { now->set_value(); });
    f.engine.wait_for_records(s, 0, 1, "b", [cancelled] { ++*cancelled; });
    f.engine.cancel_waiters("b");
    return 0;
  });
  CHECK(now->get_future().wait_for(kDeadline) == std::future_status::ready);
  f.put(s, "k");
  f.db.run_sync([](Connection&) { return 0; });
  CHECK(*cancelled == 0);
}

TEST_CASE("deleting a stream calls its waiters, which then find it gone") {
  Fixture f;
  Stream& s = f.create("doomed", 1);
  const std::string arn = s.arn;
  auto called = std::make_shared<std::promise<bool>>();
  f.db.run_sync([&](Connection&) {
    f.engine.wait_for_records(s, 0, 0, "a", [&, called] { called->set_value(f.engine.find_by_arn(arn) == nullptr); });
    return 0;
  });
  REQUIRE(f.db.run_sync([&](Connection& c) { return f.engine.delete_stream(c, s); }).has_value());
  auto fut = called->get_future();
  REQUIRE(fut.wait_for(kDeadline) == std::future_status::ready);
  CHECK(fut.get());
}

TEST_CASE("streams, shards, records and indexes survive a reload, trims included") {
  const auto path = (std::filesystem::temp_directory_path() / ("esmd-kinesis-" + new_uuid() + ".db")).string();
  std::string arn, seq;
  std::int64_t created_ms = 0;
  {
    Fixture f(path);
    Stream& s = f.create("durable", 2);
    REQUIRE(f.db.run_sync([&](Connection& c) { return f.engine.add_tags(c, s, {{"team", "data"}}); }).has_value());
    arn = s.arn;
    created_ms = s.created_ms;
    f.put(s, "a", "old", "0");
    f.clock.advance_ms(25 * kHourMs);
    f.db.run_sync([&](Connection& c) { return f.engine.tick(c, f.clock.now_ms()); });  // trims "old"
    seq = f.put(s, "b", std::string("\0\x01\xff", 3), "0").sequence_number;
    f.put(s, "c", "last", "0");
    f.db.stop();
  }
  Fixture g(path);
  Stream* s = g.engine.find_by_arn(arn);
  REQUIRE(s);
  CHECK(s->created_ms == created_ms);
  CHECK(s->tags.at("team") == "data");
  REQUIRE(s->shards.size() == 2);
  CHECK(s->shards[1].hash_end == "340282366920938463463374607431768211455");
  const Shard& sh = s->shards[0];
  REQUIRE(sh.records.size() == 2);
  CHECK(sh.records[0].index == 1);
  CHECK(sh.records[0].sequence_number == seq);
  CHECK(sh.records[0].data == std::string("\0\x01\xff", 3));
  CHECK(sh.records[1].data == "last");
  CHECK(g.put(*s, "d", "next", "0").index == 3);
  g.db.stop();
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
}

TEST_CASE("stream ids are never reused, not even after a restart that follows a delete") {
  const auto path = (std::filesystem::temp_directory_path() / ("esmd-kinesis-" + new_uuid() + ".db")).string();
  std::int64_t deleted_id = 0;
  {
    Fixture f(path);
    f.create("kept", 1);
    Stream& s = f.create("gone", 1);
    deleted_id = s.id;
    REQUIRE(f.db.run_sync([&](Connection& c) { return f.engine.delete_stream(c, s); }).has_value());
    f.db.stop();
  }
  {
    Fixture g(path);
    CHECK(g.create("new", 1).id > deleted_id);
    g.db.stop();
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
}

TEST_CASE("a recreated stream with the same name is a new stream") {
  Fixture f;
  Stream& s = f.create("again", 1);
  const std::int64_t first_id = s.id;
  REQUIRE(f.db.run_sync([&](Connection& c) { return f.engine.delete_stream(c, s); }).has_value());
  Stream& t = f.create("again", 1);
  CHECK(t.id != first_id);
  CHECK(t.shards[0].next_index == 0);
}

TEST_CASE("creating a stream that exists is ResourceInUse, and finding one that does not ResourceNotFound") {
  Fixture f;
  f.create("taken", 1);
  auto again = f.db.run_sync([&](Connection& c) {
    return f.engine.create_stream(c, "us-east-1", "taken", 1, "PROVISIONED", {}, f.clock.now_ms());
  });
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().kind == ErrorKind::kStreamExists);
  CHECK(describe(again.error()).message == "Stream taken under account 123456789012 already exists.");
  auto missing = f.engine.find("us-east-1", "nope");
  REQUIRE_FALSE(missing.has_value());
  CHECK(describe(missing.error()).message == "Stream nope under account 123456789012 not found.");
  auto elsewhere = f.engine.find("eu-west-1", "taken");
  REQUIRE_FALSE(elsewhere.has_value());
  CHECK(elsewhere.error().kind == ErrorKind::kStreamNotFound);
}

TEST_CASE("more shards than the account's limit is LimitExceeded") {
  Fixture f;
  f.create("big", 400);
  auto more = f.db.run_sync([&](Connection& c) {
    return f.engine.create_stream(c, "us-east-1", "more", 101, "PROVISIONED", {}, f.clock.now_ms());
  });
  REQUIRE_FALSE(more.has_value());
  CHECK(more.error().kind == ErrorKind::kShardLimitExceeded);
  CHECK(more.error().current == 400);
  CHECK(more.error().limit == 500);
  CHECK(describe(more.error()).type == esm::api::kinesis_wire::ErrorType::kLimitExceeded);
}

TEST_CASE("with shard limits on, the 1001st record in a second is refused and the next second is free") {
  Fixture f;
  f.engine.set_shard_limits(true);
  Stream& s = f.create("limited", 1);
  f.clock.set_ms((f.clock.now_ms() / 1000 + 1) * 1000);
  auto put_many = [&](int n) {
    return f.db.run_sync([&](Connection& c) {
      int failed = 0;
      for (int i = 0; i < n; ++i)
        if (!f.engine.put(c, s, {"k", "x", ""}, f.clock.now_ms())) ++failed;
      return failed;
    });
  };
  CHECK(put_many(1000) == 0);
  auto over = f.db.run_sync([&](Connection& c) { return f.engine.put(c, s, {"k", "x", ""}, f.clock.now_ms()); });
  REQUIRE_FALSE(over.has_value());
  CHECK(over.error().kind == ErrorKind::kThroughputExceeded);
  CHECK(describe(over.error()).message ==
        "Rate exceeded for shard shardId-000000000000 in stream limited under account 123456789012.");
  f.clock.advance_ms(1000);
  CHECK(put_many(1) == 0);
  // Bytes count too: 1 MiB a second.
  f.clock.advance_ms(1000);
  CHECK(f.db.run_sync([&](Connection& c) {
          return f.engine.put(c, s, {"k", std::string(1048575, 'a'), ""}, f.clock.now_ms()).has_value();
        }));
  CHECK_FALSE(f.db.run_sync([&](Connection& c) {
    return f.engine.put(c, s, {"k", "xy", ""}, f.clock.now_ms()).has_value();
  }));
}

TEST_CASE("shard iterators name their position, expire after five minutes and cannot be forged") {
  Fixture f;
  Stream& s = f.create("iter", 2);
  const std::string token = f.engine.make_iterator(s, 1, 42, f.clock.now_ms());
  auto pos = f.engine.open_iterator(token, f.clock.now_ms());
  REQUIRE(pos);
  CHECK(pos->stream == &s);
  CHECK(pos->shard == 1);
  CHECK(pos->index == 42);
  CHECK(token.size() <= 512);

  f.clock.advance_ms(StreamEngine::kIteratorTtlMs + 1);
  auto expired = f.engine.open_iterator(token, f.clock.now_ms());
  REQUIRE_FALSE(expired.has_value());
  CHECK(expired.error().kind == ErrorKind::kIteratorExpired);
  CHECK(describe(expired.error()).message.starts_with("Iterator expired. The iterator was created at time "));

  auto raw = base64_decode(f.engine.make_iterator(s, 1, 42, f.clock.now_ms()));
  REQUIRE(raw);
  std::string forged = *raw;
  forged.replace(forged.find(":42:"), 4, ":43:");
  CHECK(f.engine.open_iterator(base64_encode(forged), f.clock.now_ms()).error().kind == ErrorKind::kInvalidIterator);
  CHECK(f.engine.open_iterator("not-base64!", f.clock.now_ms()).error().kind == ErrorKind::kInvalidIterator);

  const std::string live = f.engine.make_iterator(s, 0, 0, f.clock.now_ms());
  REQUIRE(f.db.run_sync([&](Connection& c) { return f.engine.delete_stream(c, s); }).has_value());
  CHECK(f.engine.open_iterator(live, f.clock.now_ms()).error().kind == ErrorKind::kIteratorShardGone);
}
