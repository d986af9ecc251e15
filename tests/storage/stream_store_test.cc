#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "storage/stream_store.h"

using namespace esm;
using namespace esm::storage;

namespace {

std::unique_ptr<Connection> fresh_db() {
  auto c = Connection::open(":memory:", Durability::kNormal);
  REQUIRE(c);
  REQUIRE(migrate(**c).is_ok());
  return std::move(c).value();
}

std::vector<RecordRow> all_records(Connection& c) {
  std::vector<RecordRow> out;
  REQUIRE(for_each_record_row(c, [&](RecordRow&& r) {
            out.push_back(std::move(r));
            return Status::ok();
          }).is_ok());
  return out;
}

}  // namespace

TEST_CASE("stream rows are saved, rewritten and loaded with their tags") {
  auto c = fresh_db();
  REQUIRE(save_stream_row(*c, {7, "eu-west-1", "123456789012", "clicks", "PROVISIONED", 24, 1000, {{"a", "b"}}}).is_ok());
  REQUIRE(save_stream_row(*c, {7, "eu-west-1", "123456789012", "clicks", "PROVISIONED", 48, 1000, {}}).is_ok());
  auto rows = load_stream_rows(*c);
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].id == 7);
  CHECK((*rows)[0].name == "clicks");
  CHECK((*rows)[0].retention_hours == 48);
  CHECK((*rows)[0].tags.empty());
}

TEST_CASE("shard rows load in stream and shard order") {
  auto c = fresh_db();
  REQUIRE(insert_shard_row(*c, {2, 0, "0", "9", 0}).is_ok());
  REQUIRE(insert_shard_row(*c, {1, 1, "5", "9", 3}).is_ok());
  REQUIRE(insert_shard_row(*c, {1, 0, "0", "4", 0}).is_ok());
  auto rows = load_shard_rows(*c);
  REQUIRE(rows);
  REQUIRE(rows->size() == 3);
  CHECK((*rows)[0].stream_id == 1);
  CHECK((*rows)[0].shard_index == 0);
  CHECK((*rows)[1].next_index == 3);
  CHECK((*rows)[2].stream_id == 2);
}

TEST_CASE("record rows keep their bytes and trimming drops those below the first kept index") {
  auto c = fresh_db();
  REQUIRE(insert_shard_row(*c, {1, 0, "0", "9", 0}).is_ok());
  for (int i = 0; i < 4; ++i)
    REQUIRE(insert_record_row(*c, {1, 0, i, "k", std::string("\0\xff", 2) + std::to_string(i), 100 + i}).is_ok());
  REQUIRE(trim_record_rows(*c, 1, 0, 2, 4).is_ok());
  auto rows = all_records(*c);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].record_index == 2);
  CHECK(rows[0].data == std::string("\0\xff", 2) + "2");
  CHECK(rows[1].arrival_ms == 103);
  auto shards = load_shard_rows(*c);
  REQUIRE(shards);
  CHECK((*shards)[0].next_index == 4);
}

TEST_CASE("deleting a stream's rows removes its shards and records and keeps the others") {
  auto c = fresh_db();
  for (std::int64_t id : {1, 2}) {
    REQUIRE(save_stream_row(*c, {id, "us-east-1", "1", "s" + std::to_string(id), "ON_DEMAND", 24, 0, {}}).is_ok());
    REQUIRE(insert_shard_row(*c, {id, 0, "0", "9", 0}).is_ok());
    REQUIRE(insert_record_row(*c, {id, 0, 0, "k", "d", 0}).is_ok());
  }
  REQUIRE(delete_stream_rows(*c, 1).is_ok());
  CHECK(load_stream_rows(*c)->size() == 1);
  CHECK(load_shard_rows(*c)->size() == 1);
  auto rows = all_records(*c);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].stream_id == 2);
}

TEST_CASE("the last stream id is none at first and then what was saved") {
  auto c = fresh_db();
  auto none = load_last_stream_id(*c);
  REQUIRE(none);
  CHECK_FALSE(*none);
  REQUIRE(save_last_stream_id(*c, 41).is_ok());
  auto last = load_last_stream_id(*c);
  REQUIRE(last);
  CHECK(**last == 41);
}

TEST_CASE("a record callback's error stops the scan and is returned") {
  auto c = fresh_db();
  for (int i = 0; i < 3; ++i) REQUIRE(insert_record_row(*c, {1, 0, i, "k", "d", 0}).is_ok());
  int seen = 0;
  const Status s = for_each_record_row(*c, [&](RecordRow&&) {
    ++seen;
    return internal_error("stop");
  });
  CHECK(s.message() == "stop");
  CHECK(seen == 1);
}

TEST_CASE("a row that cannot be read is an error, not the end of the rows") {
  auto c = fresh_db();
  // Views whose rows fail while they are stepped through (json() of text that is not JSON), as
  // a damaged page would.
  REQUIRE(c->exec("DROP TABLE kinesis_records").is_ok());
  REQUIRE(c->exec("DROP TABLE kinesis_shards").is_ok());
  REQUIRE(c->exec("DROP TABLE kinesis_streams").is_ok());
  REQUIRE(c->exec("CREATE VIEW kinesis_streams AS SELECT 1 AS id, 'r' AS region, 'a' AS account, 'n' AS name, "
                  "'m' AS mode, 24 AS retention_hours, 0 AS created_ms, json('{') AS tags").is_ok());
  REQUIRE(c->exec("CREATE VIEW kinesis_shards AS SELECT 1 AS stream_id, 0 AS shard_index, json('{') AS hash_start, "
                  "'9' AS hash_end, 0 AS next_index").is_ok());
  REQUIRE(c->exec("CREATE VIEW kinesis_records AS SELECT 1 AS stream_id, 0 AS shard_index, 0 AS record_index, "
                  "'k' AS partition_key, json('{') AS data, 0 AS arrival_ms").is_ok());
  CHECK_FALSE(load_stream_rows(*c));
  CHECK_FALSE(load_shard_rows(*c));
  CHECK_FALSE(for_each_record_row(*c, [](RecordRow&&) { return Status::ok(); }).is_ok());
}

TEST_CASE("a new stream whose shards cannot all be written leaves no rows behind") {
  auto c = fresh_db();
  REQUIRE(c->exec("BEGIN").is_ok());
  // The second shard repeats the first one's key: its insert fails after two rows were written.
  const Status s = insert_stream_rows(*c, {3, "us-east-1", "1", "half", "PROVISIONED", 24, 0, {}},
                                      {{3, 0, "0", "4", 0}, {3, 0, "5", "9", 0}});
  CHECK_FALSE(s.is_ok());
  REQUIRE(c->exec("COMMIT").is_ok());
  CHECK(load_stream_rows(*c)->empty());
  CHECK(load_shard_rows(*c)->empty());
  CHECK_FALSE(*load_last_stream_id(*c));
}

TEST_CASE("a new stream's rows and its id are written together") {
  auto c = fresh_db();
  REQUIRE(insert_stream_rows(*c, {3, "us-east-1", "1", "whole", "PROVISIONED", 24, 0, {}},
                             {{3, 0, "0", "4", 0}, {3, 1, "5", "9", 0}})
              .is_ok());
  CHECK(load_stream_rows(*c)->size() == 1);
  CHECK(load_shard_rows(*c)->size() == 2);
  CHECK(**load_last_stream_id(*c) == 3);
}
