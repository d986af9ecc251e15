// InvocationLog lives in core/ (api/ reads it); its tests sit with the invoker that fills it.
#include "core/invocation_log.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>

namespace esm {
namespace {

InvocationRecord record(std::string arn, std::string mapping = {}, std::string event = "{}") {
  InvocationRecord r;
  r.function_arn = std::move(arn);
  r.mapping_uuid = std::move(mapping);
  r.event = std::make_shared<const std::string>(std::move(event));
  r.outcome.status = InvokeStatus::kSuccess;
  return r;
}

constexpr const char* kFn = "arn:aws:lambda:us-east-1:000000000000:function:fn";
constexpr const char* kOther = "arn:aws:lambda:us-east-1:000000000000:function:other";

TEST_CASE("append numbers entries from 1 and query returns them newest last") {
  InvocationLog log;
  CHECK(log.append(record(kFn)) == 1);
  CHECK(log.append(record(kFn)) == 2);
  auto all = log.query({});
  REQUIRE(all.size() == 2);
  CHECK(all[0]->seq == 1);
  CHECK(all[1]->seq == 2);
  CHECK(log.last_seq() == 2);
}

TEST_CASE("the ring keeps only the newest max_entries") {
  InvocationLog log(3);
  for (int i = 0; i < 10; ++i) (void)log.append(record(kFn));
  CHECK(log.size() == 3);
  auto all = log.query({});
  REQUIRE(all.size() == 3);
  CHECK(all.front()->seq == 8);
  CHECK(all.back()->seq == 10);
}

TEST_CASE("the byte budget drops the oldest entries but always keeps the newest") {
  InvocationLog log(100, 10'000);
  (void)log.append(record(kFn, "", std::string(4'000, 'a')));
  (void)log.append(record(kFn, "", std::string(4'000, 'b')));
  CHECK(log.size() == 2);
  (void)log.append(record(kFn, "", std::string(4'000, 'c')));
  CHECK(log.size() == 2);
  CHECK(log.query({}).front()->seq == 2);
  (void)log.append(record(kFn, "", std::string(50'000, 'd')));
  CHECK(log.size() == 1);
  CHECK(log.query({}).front()->seq == 4);
}

TEST_CASE("limit without since returns the newest entries") {
  InvocationLog log;
  for (int i = 0; i < 5; ++i) (void)log.append(record(kFn));
  InvocationQuery q;
  q.limit = 2;
  auto got = log.query(q);
  REQUIRE(got.size() == 2);
  CHECK(got[0]->seq == 4);
  CHECK(got[1]->seq == 5);
}

TEST_CASE("since returns the oldest entries after it, so that a reader can walk forward") {
  InvocationLog log;
  for (int i = 0; i < 5; ++i) (void)log.append(record(kFn));
  InvocationQuery q;
  q.since = 2;
  q.limit = 2;
  auto got = log.query(q);
  REQUIRE(got.size() == 2);
  CHECK(got[0]->seq == 3);
  CHECK(got[1]->seq == 4);
  q.since = 5;
  CHECK(log.query(q).empty());
}

TEST_CASE("function filters match a name, a qualified name or an ARN") {
  InvocationLog log;
  (void)log.append(record(kFn));
  (void)log.append(record(kOther));
  (void)log.append(record(std::string(kFn) + ":prod"));
  auto count = [&](std::string f) {
    InvocationQuery q;
    q.function = std::move(f);
    return log.query(q).size();
  };
  CHECK(count("fn") == 2);
  CHECK(count("fn:prod") == 1);
  CHECK(count(kFn) == 2);
  CHECK(count("000000000000:function:other") == 1);
  CHECK(count("arn:aws:lambda:eu-west-1:000000000000:function:fn") == 0);
  CHECK(count("nope") == 0);
  CHECK(count("not a name!") == 0);
}

TEST_CASE("mapping filters match the UUID case-insensitively") {
  InvocationLog log;
  (void)log.append(record(kFn, "aaaaaaaa-0000-4000-8000-000000000001"));
  (void)log.append(record(kFn, "aaaaaaaa-0000-4000-8000-000000000002"));
  (void)log.append(record(kFn));
  InvocationQuery q;
  q.mapping = "AAAAAAAA-0000-4000-8000-000000000002";
  auto got = log.query(q);
  REQUIRE(got.size() == 1);
  CHECK(got[0]->seq == 2);
}

TEST_CASE("clear empties the log but seq numbers keep increasing") {
  InvocationLog log;
  (void)log.append(record(kFn));
  (void)log.append(record(kFn));
  log.clear();
  CHECK(log.size() == 0);
  CHECK(log.bytes() == 0);
  CHECK(log.query({}).empty());
  CHECK(log.append(record(kFn)) == 3);
}

TEST_CASE("outcome names are the ones the admin API shows") {
  CHECK(outcome_name(InvokeStatus::kSuccess) == "Success");
  CHECK(outcome_name(InvokeStatus::kFunctionError) == "FunctionError");
  CHECK(outcome_name(InvokeStatus::kInvokeError) == "InvokeError");
}

}  // namespace
}  // namespace esm
