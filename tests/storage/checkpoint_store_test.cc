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
  CHECK(cps[0].partition == "shardId-000000000000");
  CHECK(cps[0].position == 3);
  CHECK_FALSE(cps[0].state);
  CHECK(cps[1].position == 9);
  CHECK(cps[1].state == R"({"start":0,"state":{}})");
  CHECK(load_checkpoints(*c, m.uuid, kStream + "-other")->empty());
}

TEST_CASE("a checkpoint keeps the id of the stream it was written for") {
  auto c = fresh_db();
  Mapping m = kinesis_mapping("11111111-1111-4111-8111-111111111111");
  REQUIRE(insert_mapping(*c, m).is_ok());
  REQUIRE(save_checkpoint(*c, m.uuid, {"shardId-000000000000", kStream, 25, std::nullopt, 7}).is_ok());
  CHECK(load_checkpoints(*c, m.uuid, kStream).value()[0].epoch == 7);
  REQUIRE(save_checkpoint(*c, m.uuid, {"shardId-000000000000", kStream, 3, std::nullopt, 8}).is_ok());
  auto cps = load_checkpoints(*c, m.uuid, kStream).value();
  REQUIRE(cps.size() == 1);
  CHECK(cps[0].epoch == 8);
  CHECK(cps[0].position == 3);
}

TEST_CASE("a checkpoint read that fails is an error, not an empty list") {
  auto c = fresh_db();
  // A view that fails while it is stepped (abs() of INT64_MIN overflows), not when prepared.
  REQUIRE(c->exec("DROP TABLE checkpoints").is_ok());
  REQUIRE(c->exec("CREATE VIEW checkpoints(mapping_uuid, source, partition_id, position, position_text, state, "
                  "epoch) AS SELECT 'u', '" +
                  kStream + "', 'shardId-000000000000', abs(-9223372036854775807 - 1), NULL, NULL, 0")
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
  CHECK(load_checkpoints(*c, a.uuid, kStream).value()[0].position == 4);
  CHECK(load_checkpoints(*c, b.uuid, kStream).value()[0].position == 40);
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

TEST_CASE("a checkpoint keeps a text position for a source whose positions are not numbers") {
  auto c = fresh_db();
  Mapping m = kinesis_mapping("11111111-1111-4111-8111-111111111111");
  REQUIRE(insert_mapping(*c, m).is_ok());
  const std::string topic = "arn:aws:kafka:us-east-1:123456789012:topic/orders";
  Checkpoint cp{"3", topic, 0, std::nullopt, 0, std::string("offset-42")};
  REQUIRE(save_checkpoint(*c, m.uuid, cp).is_ok());
  REQUIRE(save_checkpoint(*c, m.uuid, {"3", kStream, 17, std::nullopt}).is_ok());
  auto kafka = load_checkpoints(*c, m.uuid, topic).value();
  REQUIRE(kafka.size() == 1);
  CHECK(kafka[0].partition == "3");
  CHECK(kafka[0].position_text == "offset-42");
  // The same partition name in another source is another checkpoint.
  auto stream = load_checkpoints(*c, m.uuid, kStream).value();
  REQUIRE(stream.size() == 1);
  CHECK(stream[0].position == 17);
  CHECK_FALSE(stream[0].position_text);
}

TEST_CASE("migrating from schema 5 keeps every Kinesis checkpoint with its stream id") {
  auto c = fresh_db();
  Mapping m = kinesis_mapping("11111111-1111-4111-8111-111111111111");
  REQUIRE(insert_mapping(*c, m).is_ok());
  // Back to the schema 5 table, as an esmd of that version left it.
  REQUIRE(c->exec("DROP TABLE checkpoints").is_ok());
  // A schema-5 database has none of the later versions' tables either.
  REQUIRE(c->exec("DROP TABLE kafka_topics; DROP TABLE kafka_partitions; DROP TABLE kafka_batches; "
                  "DROP TABLE kafka_producers; DROP TABLE kafka_offsets")
              .is_ok());
  REQUIRE(c->exec("CREATE TABLE stream_checkpoints(mapping_uuid TEXT NOT NULL, shard_id TEXT NOT NULL, "
                  "stream_arn TEXT NOT NULL, next_index INTEGER NOT NULL, window_json TEXT, stream_id INTEGER NOT "
                  "NULL DEFAULT 0, PRIMARY KEY(mapping_uuid, shard_id)) WITHOUT ROWID")
              .is_ok());
  REQUIRE(c->exec("INSERT INTO stream_checkpoints VALUES ('" + m.uuid + "', 'shardId-000000000000', '" + kStream +
                  "', 25, NULL, 7), ('" + m.uuid + "', 'shardId-000000000001', '" + kStream +
                  "', 3, '{\"start\":0,\"state\":{}}', 0)")
              .is_ok());
  REQUIRE(c->exec("PRAGMA user_version=5").is_ok());
  REQUIRE(migrate(*c).is_ok());
  auto cps = load_checkpoints(*c, m.uuid, kStream).value();
  REQUIRE(cps.size() == 2);
  CHECK(cps[0].partition == "shardId-000000000000");
  CHECK(cps[0].position == 25);
  CHECK(cps[0].epoch == 7);  // a stream recreated since (another id) still starts afresh
  CHECK_FALSE(cps[0].state);
  CHECK(cps[1].position == 3);
  CHECK(cps[1].epoch == 0);  // written before stream ids were recorded: trusted
  CHECK(cps[1].state == R"({"start":0,"state":{}})");
}
