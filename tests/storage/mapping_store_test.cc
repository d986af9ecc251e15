#include <catch2/catch.hpp>

#include <string>

#include "storage/mapping_store.h"

using namespace esm;
using namespace esm::storage;

namespace {

std::unique_ptr<Connection> fresh_db() {
  auto c = Connection::open(":memory:", Durability::kNormal);
  REQUIRE(c);
  REQUIRE(migrate(**c).is_ok());
  return std::move(c).value();
}

// A mapping with every member set to a value that differs from its default.
Mapping full_mapping() {
  Mapping m;
  m.uuid = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f";
  m.region = "eu-west-1";
  m.account = "123456789012";
  m.function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:my-fn:prod";
  m.kind = SourceKind::kKinesis;
  m.event_source_arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/clicks";
  m.fifo = true;
  m.state = MappingState::kUpdating;
  m.settle_to = MappingState::kDisabled;
  m.settle_at_ms = 1'700'000'000'500;
  m.last_modified_ms = 1'700'000'000'123;
  m.state_reason = "User action";
  m.last_processing_result = "PROBLEM: Function call failed";
  m.batch_size = 1234;
  m.batching_window_s = 7;
  m.parallelization_factor = 5;
  m.maximum_retry_attempts = 42;
  m.maximum_record_age_s = 3600;
  m.bisect_on_error = true;
  m.tumbling_window_s = 300;
  m.starting_position = "AT_TIMESTAMP";
  m.starting_position_ts = 1700000000.25;
  m.filter_patterns = {R"({"data":{"a":[1]}})", R"({"body":["x \"quoted\""]})"};
  m.report_batch_item_failures = true;
  m.maximum_concurrency = 15;
  m.destinations = Destinations{"arn:aws:sqs:eu-west-1:123456789012:ok", "arn:aws:sns:eu-west-1:123456789012:fail"};
  m.topics = {"orders", "payments"};
  m.bootstrap_servers = {"b1:9092", "b2:9092"};
  m.extras_json = R"({"KMSKeyArn":"arn:aws:kms:eu-west-1:123456789012:key/k","Queues":["q"]})";
  return m;
}

void check_same(const Mapping& a, const Mapping& b) {
  CHECK(a.uuid == b.uuid);
  CHECK(a.region == b.region);
  CHECK(a.account == b.account);
  CHECK(a.seq == b.seq);
  CHECK(a.function_arn == b.function_arn);
  CHECK(a.kind == b.kind);
  CHECK(a.event_source_arn == b.event_source_arn);
  CHECK(a.fifo == b.fifo);
  CHECK(a.state == b.state);
  CHECK(a.settle_to == b.settle_to);
  CHECK(a.settle_at_ms == b.settle_at_ms);
  CHECK(a.last_modified_ms == b.last_modified_ms);
  CHECK(a.state_reason == b.state_reason);
  CHECK(a.last_processing_result == b.last_processing_result);
  CHECK(a.batch_size == b.batch_size);
  CHECK(a.batching_window_s == b.batching_window_s);
  CHECK(a.parallelization_factor == b.parallelization_factor);
  CHECK(a.maximum_retry_attempts == b.maximum_retry_attempts);
  CHECK(a.maximum_record_age_s == b.maximum_record_age_s);
  CHECK(a.bisect_on_error == b.bisect_on_error);
  CHECK(a.tumbling_window_s == b.tumbling_window_s);
  CHECK(a.starting_position == b.starting_position);
  CHECK(a.starting_position_ts == b.starting_position_ts);
  CHECK(a.filter_patterns == b.filter_patterns);
  CHECK(a.report_batch_item_failures == b.report_batch_item_failures);
  CHECK(a.maximum_concurrency == b.maximum_concurrency);
  CHECK(a.destinations == b.destinations);
  CHECK(a.topics == b.topics);
  CHECK(a.bootstrap_servers == b.bootstrap_servers);
  CHECK(a.extras_json == b.extras_json);
}

Mapping sqs_mapping(const std::string& uuid, const std::string& queue, const std::string& fn = "f",
                    const std::string& region = "us-east-1") {
  Mapping m;
  m.uuid = uuid;
  m.region = region;
  m.account = "000000000000";
  m.function_arn = "arn:aws:lambda:" + region + ":000000000000:function:" + fn;
  m.event_source_arn = "arn:aws:sqs:" + region + ":000000000000:" + queue;
  m.state = MappingState::kEnabled;
  m.state_reason = "USER_INITIATED";
  return m;
}

std::vector<std::string> uuids(const std::vector<Mapping>& v) {
  std::vector<std::string> out;
  for (const auto& m : v) out.push_back(m.uuid);
  return out;
}

}  // namespace

TEST_CASE("insert assigns increasing creation sequence numbers") {
  auto c = fresh_db();
  Mapping a = sqs_mapping("a", "q1"), b = sqs_mapping("b", "q2"), d = sqs_mapping("d", "q3");
  REQUIRE(insert_mapping(*c, a).is_ok());
  REQUIRE(insert_mapping(*c, b).is_ok());
  REQUIRE(insert_mapping(*c, d).is_ok());
  CHECK(a.seq == 1);
  CHECK(b.seq == 2);
  CHECK(d.seq == 3);
  CHECK(get_mapping(*c, "b")->seq == 2);
  CHECK(*count_mappings(*c) == 3);
}

TEST_CASE("a deleted mapping's sequence number is never given to a newer mapping") {
  // List markers carry the sequence of the last item returned; if the newest mapping is
  // deleted and its number reused, a client holding that marker skips the newer mapping.
  auto c = fresh_db();
  Mapping a = sqs_mapping("a", "q1"), b = sqs_mapping("b", "q2");
  REQUIRE(insert_mapping(*c, a).is_ok());
  REQUIRE(insert_mapping(*c, b).is_ok());
  REQUIRE(delete_mapping(*c, "b").is_ok());
  Mapping d = sqs_mapping("d", "q3");
  REQUIRE(insert_mapping(*c, d).is_ok());
  CHECK(d.seq > b.seq);
  MappingQuery q;
  q.region = "us-east-1";
  q.after_seq = b.seq;
  CHECK(uuids(*list_mappings(*c, q)) == std::vector<std::string>{"d"});
}

TEST_CASE("every mapping field survives a round trip through the store") {
  auto c = fresh_db();
  Mapping m = full_mapping();
  REQUIRE(insert_mapping(*c, m).is_ok());
  auto back = get_mapping(*c, m.uuid);
  REQUIRE(back);
  check_same(*back, m);
}

TEST_CASE("unset optional fields come back unset, not as zero or empty") {
  auto c = fresh_db();
  Mapping m = sqs_mapping("u", "q");
  REQUIRE(insert_mapping(*c, m).is_ok());
  auto back = get_mapping(*c, "u");
  REQUIRE(back);
  check_same(*back, m);
  CHECK_FALSE(back->settle_to);
  CHECK_FALSE(back->last_processing_result);
  CHECK_FALSE(back->batching_window_s);
  CHECK_FALSE(back->parallelization_factor);
  CHECK_FALSE(back->maximum_retry_attempts);
  CHECK_FALSE(back->maximum_record_age_s);
  CHECK_FALSE(back->bisect_on_error);
  CHECK_FALSE(back->tumbling_window_s);
  CHECK_FALSE(back->starting_position);
  CHECK_FALSE(back->starting_position_ts);
  CHECK_FALSE(back->report_batch_item_failures);
  CHECK_FALSE(back->maximum_concurrency);
  CHECK_FALSE(back->destinations);
  CHECK(back->filter_patterns.empty());
  CHECK(back->topics.empty());
  CHECK(back->bootstrap_servers.empty());
  CHECK(back->extras_json == "{}");
}

TEST_CASE("zero, false and empty values are kept apart from unset ones") {
  auto c = fresh_db();
  Mapping m = sqs_mapping("z", "q");
  m.batching_window_s = 0;
  m.tumbling_window_s = 0;
  m.maximum_retry_attempts = -1;
  m.maximum_record_age_s = -1;
  m.bisect_on_error = false;
  m.report_batch_item_failures = false;
  m.last_processing_result = "";
  m.starting_position_ts = 0.0;
  REQUIRE(insert_mapping(*c, m).is_ok());
  auto back = get_mapping(*c, "z");
  REQUIRE(back);
  check_same(*back, m);
}

TEST_CASE("destinations round-trip whether empty, on-failure only or on-success only") {
  auto c = fresh_db();
  Mapping empty = sqs_mapping("e", "q1");
  empty.destinations = Destinations{};
  Mapping failure = sqs_mapping("f", "q2");
  failure.destinations = Destinations{std::nullopt, "arn:aws:sqs:us-east-1:000000000000:dlq"};
  Mapping success = sqs_mapping("s", "q3");
  success.destinations = Destinations{"arn:aws:sqs:us-east-1:000000000000:ok", std::nullopt};
  for (Mapping* m : {&empty, &failure, &success}) {
    REQUIRE(insert_mapping(*c, *m).is_ok());
    auto back = get_mapping(*c, m->uuid);
    REQUIRE(back);
    REQUIRE(back->destinations);
    CHECK(*back->destinations == *m->destinations);
  }
}

TEST_CASE("update replaces every field of the stored mapping but its identity") {
  auto c = fresh_db();
  Mapping m = sqs_mapping("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", "q");
  REQUIRE(insert_mapping(*c, m).is_ok());
  Mapping changed = full_mapping();
  // Fixed at creation: an update does not write them.
  changed.seq = m.seq;
  changed.region = m.region;
  changed.account = m.account;
  changed.kind = m.kind;
  changed.event_source_arn = m.event_source_arn;
  changed.fifo = m.fifo;
  REQUIRE(update_mapping(*c, changed).is_ok());
  auto back = get_mapping(*c, changed.uuid);
  REQUIRE(back);
  check_same(*back, changed);
  // ...and back again: optionals set before are cleared.
  REQUIRE(update_mapping(*c, m).is_ok());
  check_same(*get_mapping(*c, m.uuid), m);
  CHECK(*count_mappings(*c) == 1);
}

TEST_CASE("updating a mapping that was deleted is NotFound and does not bring it back") {
  auto c = fresh_db();
  Mapping m = sqs_mapping("gone", "q");
  REQUIRE(insert_mapping(*c, m).is_ok());
  REQUIRE(delete_mapping(*c, "gone").is_ok());
  m.last_processing_result = "OK";
  Status s = update_mapping(*c, m);
  CHECK(s.code() == Code::kNotFound);
  CHECK(s.message() == "no mapping gone");
  CHECK_FALSE(get_mapping(*c, "gone"));
  CHECK(*count_mappings(*c) == 0);
}

TEST_CASE("an update leaves the sequence number, region, account, kind, source and fifo as created") {
  auto c = fresh_db();
  Mapping a = sqs_mapping("a", "q1"), b = sqs_mapping("b", "q2");
  REQUIRE(insert_mapping(*c, a).is_ok());
  REQUIRE(insert_mapping(*c, b).is_ok());
  Mapping changed = b;
  changed.seq = a.seq;
  changed.region = "eu-west-1";
  changed.account = "123456789012";
  changed.kind = SourceKind::kKinesis;
  changed.event_source_arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/s";
  changed.fifo = !b.fifo;
  changed.batch_size = b.batch_size + 1;
  REQUIRE(update_mapping(*c, changed).is_ok());
  auto back = get_mapping(*c, "b");
  REQUIRE(back);
  CHECK(back->batch_size == b.batch_size + 1);
  check_same(*back, [&] {
    Mapping want = b;
    want.batch_size = b.batch_size + 1;
    return want;
  }());
  CHECK(*count_mappings(*c) == 2);
  CHECK(get_mapping(*c, "a")->seq == 1);
}

// AWS's wording of it is the Lambda front-end's (tests/api/lambda_api_routes_test.cc).
TEST_CASE("getting an unknown mapping is NotFound naming the uuid") {
  auto c = fresh_db();
  auto r = get_mapping(*c, "nope");
  REQUIRE_FALSE(r);
  CHECK(r.status().code() == Code::kNotFound);
  CHECK(r.status().message() == "no mapping nope");
}

TEST_CASE("list returns one region's mappings in creation order") {
  auto c = fresh_db();
  for (const char* id : {"a", "b", "c"}) {
    Mapping m = sqs_mapping(id, std::string("q-") + id);
    REQUIRE(insert_mapping(*c, m).is_ok());
  }
  Mapping other = sqs_mapping("x", "q-x", "f", "eu-west-1");
  REQUIRE(insert_mapping(*c, other).is_ok());
  MappingQuery q;
  q.region = "us-east-1";
  CHECK(uuids(*list_mappings(*c, q)) == std::vector<std::string>{"a", "b", "c"});
  q.region = "eu-west-1";
  CHECK(uuids(*list_mappings(*c, q)) == std::vector<std::string>{"x"});
  q.region = "ap-south-1";
  CHECK(list_mappings(*c, q)->empty());
}

TEST_CASE("list filters by exact function ARN and event source ARN, combined with AND") {
  auto c = fresh_db();
  Mapping m1 = sqs_mapping("1", "orders", "fn");
  Mapping m2 = sqs_mapping("2", "orders", "fn2");
  Mapping m3 = sqs_mapping("3", "payments", "fn");
  for (Mapping* m : {&m1, &m2, &m3}) REQUIRE(insert_mapping(*c, *m).is_ok());
  MappingQuery q;
  q.region = "us-east-1";
  q.function_arn = "arn:aws:lambda:us-east-1:000000000000:function:fn";
  CHECK(uuids(*list_mappings(*c, q)) == std::vector<std::string>{"1", "3"});
  q.event_source_arn = "arn:aws:sqs:us-east-1:000000000000:orders";
  CHECK(uuids(*list_mappings(*c, q)) == std::vector<std::string>{"1"});
  q.function_arn.reset();
  CHECK(uuids(*list_mappings(*c, q)) == std::vector<std::string>{"1", "2"});
  q.function_arn = "arn:aws:lambda:us-east-1:000000000000:function:f";  // a prefix of fn: no match
  CHECK(list_mappings(*c, q)->empty());
}

TEST_CASE("list continues after a sequence number and stops at the limit") {
  auto c = fresh_db();
  for (int i = 0; i < 5; ++i) {
    Mapping m = sqs_mapping("m" + std::to_string(i), "q" + std::to_string(i));
    REQUIRE(insert_mapping(*c, m).is_ok());
  }
  MappingQuery q;
  q.region = "us-east-1";
  q.limit = 2;
  CHECK(uuids(*list_mappings(*c, q)) == std::vector<std::string>{"m0", "m1"});
  q.after_seq = 2;
  CHECK(uuids(*list_mappings(*c, q)) == std::vector<std::string>{"m2", "m3"});
  q.after_seq = 4;
  CHECK(uuids(*list_mappings(*c, q)) == std::vector<std::string>{"m4"});
  q.after_seq = 5;
  CHECK(list_mappings(*c, q)->empty());
}

TEST_CASE("mappings_for_source and all_mappings return creation order across regions") {
  auto c = fresh_db();
  Mapping a = sqs_mapping("a", "orders", "f1");
  Mapping b = sqs_mapping("b", "other", "f1");
  Mapping d = sqs_mapping("d", "orders", "f2");
  for (Mapping* m : {&a, &b, &d}) REQUIRE(insert_mapping(*c, *m).is_ok());
  CHECK(uuids(*mappings_for_source(*c, "arn:aws:sqs:us-east-1:000000000000:orders")) ==
        std::vector<std::string>{"a", "d"});
  CHECK(uuids(*all_mappings(*c)) == std::vector<std::string>{"a", "b", "d"});
}

TEST_CASE("due transitions are those settling at or before now, soonest first") {
  auto c = fresh_db();
  Mapping late = sqs_mapping("late", "q1");
  late.state = MappingState::kCreating;
  late.settle_to = MappingState::kEnabled;
  late.settle_at_ms = 3000;
  Mapping soon = sqs_mapping("soon", "q2");
  soon.state = MappingState::kUpdating;
  soon.settle_to = MappingState::kDisabled;
  soon.settle_at_ms = 1000;
  Mapping stable = sqs_mapping("stable", "q3");
  for (Mapping* m : {&late, &soon, &stable}) REQUIRE(insert_mapping(*c, *m).is_ok());

  CHECK(due_transitions(*c, 999)->empty());
  CHECK(uuids(*due_transitions(*c, 1000)) == std::vector<std::string>{"soon"});
  CHECK(uuids(*due_transitions(*c, 5000)) == std::vector<std::string>{"soon", "late"});
  CHECK((*due_transitions(*c, 1000))[0].settle_to == MappingState::kDisabled);
}

TEST_CASE("next_transition_at is the earliest pending settle time, or none") {
  auto c = fresh_db();
  CHECK_FALSE(*next_transition_at(*c));
  Mapping stable = sqs_mapping("stable", "q0");
  REQUIRE(insert_mapping(*c, stable).is_ok());
  CHECK_FALSE(*next_transition_at(*c));
  Mapping a = sqs_mapping("a", "q1");
  a.settle_at_ms = 7000;
  Mapping b = sqs_mapping("b", "q2");
  b.settle_at_ms = 4000;
  REQUIRE(insert_mapping(*c, a).is_ok());
  REQUIRE(insert_mapping(*c, b).is_ok());
  CHECK(*next_transition_at(*c) == 4000);
  b.settle_at_ms = 0;
  REQUIRE(update_mapping(*c, b).is_ok());
  CHECK(*next_transition_at(*c) == 7000);
}

TEST_CASE("deleting a mapping removes it and its tags, and leaves other tags alone") {
  auto c = fresh_db();
  Mapping m = sqs_mapping("6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", "q");
  Mapping keep = sqs_mapping("0e9d8c7b-6a5f-4e3d-9c2b-1a0f9e8d7c6b", "q2");
  REQUIRE(insert_mapping(*c, m).is_ok());
  REQUIRE(insert_mapping(*c, keep).is_ok());
  REQUIRE(put_tags(*c, mapping_arn_of(m), {{"team", "a"}, {"env", "dev"}}).is_ok());
  REQUIRE(put_tags(*c, mapping_arn_of(keep), {{"team", "b"}}).is_ok());
  REQUIRE(delete_mapping(*c, m.uuid).is_ok());
  CHECK_FALSE(get_mapping(*c, m.uuid));
  CHECK(get_tags(*c, mapping_arn_of(m))->empty());
  CHECK(*get_tags(*c, mapping_arn_of(keep)) == Tags{{"team", "b"}});
  CHECK(*count_mappings(*c) == 1);
}

TEST_CASE("deleting an unknown mapping is NotFound") {
  auto c = fresh_db();
  CHECK(delete_mapping(*c, "nope").code() == Code::kNotFound);
}

TEST_CASE("putting tags adds new keys and overwrites existing ones") {
  auto c = fresh_db();
  const std::string arn = "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:x";
  CHECK(get_tags(*c, arn)->empty());
  REQUIRE(put_tags(*c, arn, {{"a", "1"}, {"b", "2"}}).is_ok());
  REQUIRE(put_tags(*c, arn, {{"b", "two"}, {"c", "3"}}).is_ok());
  CHECK(*get_tags(*c, arn) == Tags{{"a", "1"}, {"b", "two"}, {"c", "3"}});
}

TEST_CASE("removing tags drops the named keys and ignores unknown ones") {
  auto c = fresh_db();
  const std::string arn = "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:x";
  const std::string other = "arn:aws:lambda:us-east-1:000000000000:function:f";
  REQUIRE(put_tags(*c, arn, {{"a", "1"}, {"b", "2"}, {"c", "3"}}).is_ok());
  REQUIRE(put_tags(*c, other, {{"a", "1"}}).is_ok());
  REQUIRE(remove_tags(*c, arn, {"a", "c", "zzz"}).is_ok());
  CHECK(*get_tags(*c, arn) == Tags{{"b", "2"}});
  CHECK(*get_tags(*c, other) == Tags{{"a", "1"}});
}
