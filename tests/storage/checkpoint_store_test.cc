#include "storage/checkpoint_store.h"

#include <catch2/catch.hpp>

#include "storage/mapping_store.h"

using namespace esm;
using namespace esm::storage;

namespace {

const std::string kStream = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks";

std::unique_ptr<Connection> fresh_db() {
  auto c = Connection::open(":memory:", Durability::kNormal);
  REQUIRE(c);
  REQUIRE(migrate(**c).is_ok());
  return std::move(c).value();
}

Mapping kinesis_mapping(const std::string& uuid) {
  Mapping m;
  m.uuid = uuid;
  m.region = "us-east-1";
  m.account = "123456789012";
  m.function_arn = "arn:aws:lambda:us-east-1:123456789012:function:count-clicks";
  m.kind = SourceKind::kKinesis;
  m.event_source_arn = kStream;
  m.state = MappingState::kEnabled;
  m.batch_size = 100;
  m.starting_position = "TRIM_HORIZON";
  return m;
}

}  // namespace

TEST_CASE("a saved checkpoint is loaded back and a later save replaces it") {
  auto c = fresh_db();
  Mapping m = kinesis_mapping("11111111-1111-4111-8111-111111111111");
  REQUIRE(insert_mapping(*c, m).is_ok());
  REQUIRE(save_checkpoint(*c, m.uuid, {"shardId-000000000001", kStream, 5, std::nullopt}).is_ok());
  REQUIRE(save_checkpoint(*c, m.uuid, {"shardId-000000000000", kStream, 3, std::nullopt}).is_ok());
  REQUIRE(save_checkpoint(*c, m.uuid, {"shardId-000000000001", kStream, 9, R"({"start":0,"state":{}})"}).is_ok());
  auto cps = load_checkpoints(*c, m.uuid, kStream).value();
  REQUIRE(cps.size() == 2);
  CHECK(cps[0].shard_id == "shardId-000000000000");
  CHECK(cps[0].next_index == 3);
  CHECK_FALSE(cps[0].window_json);
  CHECK(cps[1].next_index == 9);
  CHECK(cps[1].window_json == R"({"start":0,"state":{}})");
  CHECK(load_checkpoints(*c, m.uuid, kStream + "-other")->empty());
}

TEST_CASE("a checkpoint keeps the id of the stream it was written for") {
  auto c = fresh_db();
  Mapping m = kinesis_mapping("11111111-1111-4111-8111-111111111111");
  REQUIRE(insert_mapping(*c, m).is_ok());
  REQUIRE(save_checkpoint(*c, m.uuid, {"shardId-000000000000", kStream, 25, std::nullopt, 7}).is_ok());
  CHECK(load_checkpoints(*c, m.uuid, kStream).value()[0].stream_id == 7);
  REQUIRE(save_checkpoint(*c, m.uuid, {"shardId-000000000000", kStream, 3, std::nullopt, 8}).is_ok());
  auto cps = load_checkpoints(*c, m.uuid, kStream).value();
  REQUIRE(cps.size() == 1);
  CHECK(cps[0].stream_id == 8);
  CHECK(cps[0].next_index == 3);
}

TEST_CASE("a checkpoint read that fails is an error, not an empty list") {
  auto c = fresh_db();
  // A view that fails while it is stepped (abs() of INT64_MIN overflows), not when prepared.
  REQUIRE(c->exec("DROP TABLE stream_checkpoints").is_ok());
  REQUIRE(c->exec("CREATE VIEW stream_checkpoints(mapping_uuid, shard_id, stream_arn, next_index, window_json, "
                  "stream_id) AS SELECT 'u', 'shardId-000000000000', '" +
                  kStream + "', abs(-9223372036854775807 - 1), NULL, 0")
              .is_ok());
  auto cps = load_checkpoints(*c, "u", kStream);
  CHECK_FALSE(cps.is_ok());
  CHECK_FALSE(cps.status().is_ok());
}

TEST_CASE("checkpoints of one mapping do not touch another's") {
  auto c = fresh_db();
  Mapping a = kinesis_mapping("11111111-1111-4111-8111-111111111111");
  Mapping b = kinesis_mapping("22222222-2222-4222-8222-222222222222");
  REQUIRE(insert_mapping(*c, a).is_ok());
  REQUIRE(insert_mapping(*c, b).is_ok());
  REQUIRE(save_checkpoint(*c, a.uuid, {"shardId-000000000000", kStream, 4, std::nullopt}).is_ok());
  REQUIRE(save_checkpoint(*c, b.uuid, {"shardId-000000000000", kStream, 40, std::nullopt}).is_ok());
  CHECK(load_checkpoints(*c, a.uuid, kStream).value()[0].next_index == 4);
  CHECK(load_checkpoints(*c, b.uuid, kStream).value()[0].next_index == 40);
}

TEST_CASE("deleting a mapping deletes its checkpoints, and a late save after it is dropped") {
  auto c = fresh_db();
  Mapping m = kinesis_mapping("11111111-1111-4111-8111-111111111111");
  REQUIRE(insert_mapping(*c, m).is_ok());
  REQUIRE(save_checkpoint(*c, m.uuid, {"shardId-000000000000", kStream, 4, std::nullopt}).is_ok());
  REQUIRE(delete_mapping(*c, m.uuid).is_ok());
  CHECK(load_checkpoints(*c, m.uuid, kStream)->empty());
  REQUIRE(save_checkpoint(*c, m.uuid, {"shardId-000000000000", kStream, 5, std::nullopt}).is_ok());
  CHECK(load_checkpoints(*c, m.uuid, kStream)->empty());
}

TEST_CASE("LastProcessingResult is set alone, and setting it on a deleted mapping is harmless") {
  auto c = fresh_db();
  Mapping m = kinesis_mapping("11111111-1111-4111-8111-111111111111");
  m.last_processing_result = "No records processed";
  REQUIRE(insert_mapping(*c, m).is_ok());
  REQUIRE(set_last_processing_result(*c, m.uuid, "OK").is_ok());
  auto back = get_mapping(*c, m.uuid);
  REQUIRE(back);
  CHECK(back->last_processing_result == "OK");
  CHECK(back->batch_size == 100);
  CHECK(set_last_processing_result(*c, "33333333-3333-4333-8333-333333333333", "OK").is_ok());
}
