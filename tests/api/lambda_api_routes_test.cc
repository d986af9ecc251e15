// LambdaApi::handle end to end in one process: an in-memory database, a real DbWorker thread and
// a FakeClock that only the test moves. Replies are awaited with a deadline; nothing sleeps.
#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/lambda_api.h"
#include "core/uuid.h"
#include "storage/mapping_store.h"
#include "storage/sqlite.h"
#include "tests/fakes/fake_clock.h"

using namespace esm;
using namespace esm::api;
using esm::testing::FakeClock;

namespace {

constexpr auto kDeadline = std::chrono::seconds(5);
constexpr const char* kAccount = "123456789012";
constexpr const char* kQueue = "arn:aws:sqs:us-east-1:123456789012:orders";
constexpr const char* kStream = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks";
constexpr const char* kMyFn = "arn:aws:lambda:us-east-1:123456789012:function:my-fn";
constexpr const char* kSecret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-creds-AbCdEf";
constexpr const char* kNotFoundBody = R"({"Type":"User","Message":"The resource you requested does not exist."})";

struct Json {
  rapidjson::Document doc;
  const rapidjson::Value& operator[](const char* k) const { return doc[k]; }
  bool has(const char* k) const { return doc.IsObject() && doc.HasMember(k); }
  std::string str(const char* k) const { return has(k) && doc[k].IsString() ? doc[k].GetString() : "<absent>"; }
};

Json parse_json(const std::string& body) {
  Json j;
  j.doc.Parse(body.c_str(), body.size());
  INFO(body);
  REQUIRE_FALSE(j.doc.HasParseError());
  return j;
}

std::string header(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "<absent>";
}

// Everything a LambdaApi needs, wired as server/app.cc wires it, with a FakeClock.
class Harness {
 public:
  explicit Harness(int transition_delay_ms = 500) : delay_ms_(transition_delay_ms) {
    auto conn = storage::Connection::open(":memory:", storage::Durability::kNormal);
    REQUIRE(conn);
    REQUIRE(storage::migrate(**conn).is_ok());
    functions_.put({"my-fn", "builtin:ok", 3000, 1});
    functions_.put({"other-fn", "builtin:ok", 3000, 1});
    worker_ = std::make_unique<storage::DbWorker>(std::move(conn).value(), clock_);
    api_ = std::make_unique<LambdaApi>(*worker_, functions_, clock_, LambdaOptions{kAccount, transition_delay_ms});
    api_->set_observer([this](const Mapping& m, bool removed) {
      {
        std::lock_guard lk(mu_);
        events_.push_back(removed ? "removed" : std::string(to_string(m.state)));
      }
      cv_.notify_all();
    });
    worker_->start([this](storage::Connection& c, std::int64_t now) { return api_->tick(c, now); });
  }
  ~Harness() { worker_->stop(); }  // before api_ goes: the worker's tick calls into it

  Response call(const std::string& method, const std::string& target, const std::string& body = {},
                const std::string& region = "us-east-1") {
    Request req;
    req.method = method;
    req.target = target;
    req.body = body;
    req.region = region;
    req.request_id = new_uuid();
    split_target(req);
    auto p = std::make_shared<std::promise<Response>>();
    auto f = p->get_future();
    api_->handle(std::move(req), [p](Response r) { p->set_value(std::move(r)); });
    INFO(method << " " << target);
    REQUIRE(f.wait_for(kDeadline) == std::future_status::ready);
    return f.get();
  }

  // Creates a mapping and returns its UUID; the create must succeed.
  std::string create(const std::string& body) {
    Response r = call("POST", "/2015-03-31/event-source-mappings", body);
    INFO(r.body);
    REQUIRE(r.status == 202);
    return parse_json(r.body).str("UUID");
  }
  std::string create_sqs(const std::string& queue = kQueue, const std::string& fn = "my-fn") {
    return create(R"({"FunctionName":")" + fn + R"(","EventSourceArn":")" + queue + "\"}");
  }
  Response get(const std::string& uuid) { return call("GET", "/2015-03-31/event-source-mappings/" + uuid); }
  std::string state_of(const std::string& uuid) { return parse_json(get(uuid).body).str("State"); }
  Response update(const std::string& uuid, const std::string& body) {
    return call("PUT", "/2015-03-31/event-source-mappings/" + uuid, body);
  }
  Response remove(const std::string& uuid) { return call("DELETE", "/2015-03-31/event-source-mappings/" + uuid); }

  // Moves the clock past the transition delay and wakes the worker. A request sent afterwards
  // sees the settled state: every group of jobs runs the tick first.
  void settle() {
    clock_.advance_ms(delay_ms_);
    worker_->poke();
  }
  // Waits until the observer has seen `event` (a state name, or "removed").
  bool wait_for_event(const std::string& event) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, kDeadline, [&] { return std::find(events_.begin(), events_.end(), event) != events_.end(); });
  }

  // Fault injection: while on, every commit of the worker's connection fails (rolled back).
  void fail_commits(bool on) {
    if (!veto_installed_) {
      REQUIRE(worker_->run_sync([this](storage::Connection& c) {
        c.set_commit_veto([this] { return failing_.load(); });
        return Status::ok();
      }).is_ok());
      veto_installed_ = true;
    }
    failing_ = on;
  }
  std::vector<std::string> events() {
    std::lock_guard lk(mu_);
    return events_;
  }

  FakeClock& clock() { return clock_; }
  LambdaApi& api() { return *api_; }
  storage::DbWorker& worker() { return *worker_; }
  FunctionRegistry& functions() { return functions_; }

 private:
  int delay_ms_;
  FakeClock clock_{1'700'000'000'000};
  FunctionRegistry functions_;
  std::unique_ptr<storage::DbWorker> worker_;
  std::unique_ptr<LambdaApi> api_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
  std::atomic<bool> failing_{false};
  bool veto_installed_ = false;
};

void check_error(const Response& r, int status, const std::string& type, const std::string& body) {
  INFO(r.body);
  CHECK(r.status == status);
  CHECK(header(r, "X-Amzn-Errortype") == type);
  CHECK(r.body == body);
}

void check_ipve(const Response& r, const std::string& message) {
  check_error(r, 400, "InvalidParameterValueException", R"({"Type":"User","message":")" + message + "\"}");
}

std::vector<std::string> listed_uuids(const Json& j) {
  std::vector<std::string> out;
  for (const auto& m : j["EventSourceMappings"].GetArray()) out.emplace_back(m["UUID"].GetString());
  return out;
}

}  // namespace

// ---- lifecycle ---------------------------------------------------------------------------------

TEST_CASE("a new mapping answers 202 Creating and is Enabled once the transition delay has passed") {
  Harness h;
  Response r = h.call("POST", "/2015-03-31/event-source-mappings",
                      R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:orders"})");
  REQUIRE(r.status == 202);
  CHECK(r.content_type == "application/json");
  Json j = parse_json(r.body);
  const std::string uuid = j.str("UUID");
  CHECK(looks_like_uuid(uuid));
  CHECK(j.str("State") == "Creating");
  CHECK(j.str("FunctionArn") == kMyFn);
  CHECK(j.str("EventSourceArn") == kQueue);
  CHECK(j.str("EventSourceMappingArn") == "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:" + uuid);
  CHECK(j.str("StateTransitionReason") == "USER_INITIATED");
  CHECK(j["BatchSize"].GetInt() == 10);
  CHECK_THAT(r.body, Catch::Contains(R"("LastModified":1700000000.000)"));

  CHECK(h.state_of(uuid) == "Creating");
  h.clock().advance_ms(499);
  CHECK(h.state_of(uuid) == "Creating");
  h.clock().advance_ms(1);
  CHECK(h.state_of(uuid) == "Enabled");
  CHECK_THAT(h.get(uuid).body, Catch::Contains(R"("LastModified":1700000000.500)"));
}

TEST_CASE("a due transition settles on a poke alone, without any request") {
  Harness h;
  h.create_sqs();
  REQUIRE(h.wait_for_event("Creating"));
  h.settle();
  CHECK(h.wait_for_event("Enabled"));
}

TEST_CASE("with a zero transition delay the next request already sees Enabled") {
  Harness h(0);
  const std::string uuid = h.create_sqs();
  CHECK(h.state_of(uuid) == "Enabled");
}

TEST_CASE("a mapping created with Enabled false is Disabled at once, with no Creating step") {
  Harness h;
  Response r = h.call("POST", "/2015-03-31/event-source-mappings",
                      R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:q.fifo","Enabled":false,"BatchSize":1})");
  REQUIRE(r.status == 202);
  Json j = parse_json(r.body);
  CHECK(j.str("State") == "Disabled");
  CHECK(j["BatchSize"].GetInt() == 1);
  h.settle();
  CHECK(h.state_of(j.str("UUID")) == "Disabled");
}

TEST_CASE("an update during Creating is refused as in use") {
  Harness h;
  const std::string uuid = h.create_sqs();
  check_error(h.update(uuid, R"({"BatchSize":5})"), 400, "ResourceInUseException",
              R"({"Type":"User","Message":"Cannot update the event source mapping because it is in use."})");
  CHECK(parse_json(h.get(uuid).body)["BatchSize"].GetInt() == 10);
}

TEST_CASE("a delete during Creating is refused as in use") {
  Harness h;
  const std::string uuid = h.create_sqs();
  check_error(h.remove(uuid), 400, "ResourceInUseException",
              R"({"Type":"User","Message":"Cannot delete the event source mapping because it is in use."})");
  CHECK(h.state_of(uuid) == "Creating");
}

TEST_CASE("disabling goes through Disabling to Disabled, and enabling through Enabling back to Enabled") {
  Harness h;
  const std::string uuid = h.create_sqs();
  h.settle();
  Response off = h.update(uuid, R"({"Enabled":false})");
  REQUIRE(off.status == 202);
  CHECK(parse_json(off.body).str("State") == "Disabling");
  check_error(h.update(uuid, R"({"Enabled":true})"), 400, "ResourceInUseException",
              R"({"Type":"User","Message":"Cannot update the event source mapping because it is in use."})");
  h.settle();
  CHECK(h.state_of(uuid) == "Disabled");
  Response on = h.update(uuid, R"({"Enabled":true})");
  REQUIRE(on.status == 202);
  CHECK(parse_json(on.body).str("State") == "Enabling");
  h.settle();
  CHECK(h.state_of(uuid) == "Enabled");
}

TEST_CASE("an update of other fields goes through Updating back to the prior state and answers the new values") {
  Harness h;
  const std::string uuid = h.create(
      R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:orders","Enabled":false})");
  h.clock().advance_ms(60'000);
  Response r = h.update(uuid, R"({"BatchSize":8})");
  REQUIRE(r.status == 202);
  Json j = parse_json(r.body);
  CHECK(j.str("State") == "Updating");
  CHECK(j["BatchSize"].GetInt() == 8);
  CHECK_THAT(r.body, Catch::Contains(R"("LastModified":1700000060.000)"));
  h.settle();
  Json after = parse_json(h.get(uuid).body);
  CHECK(after.str("State") == "Disabled");
  CHECK(after["BatchSize"].GetInt() == 8);
}

TEST_CASE("an update with Enabled equal to the current value is an Updating step") {
  Harness h;
  const std::string uuid = h.create_sqs();
  h.settle();
  Response r = h.update(uuid, R"({"Enabled":true})");
  REQUIRE(r.status == 202);
  CHECK(parse_json(r.body).str("State") == "Updating");
  h.settle();
  CHECK(h.state_of(uuid) == "Enabled");
}

TEST_CASE("an update is validated on the merged configuration") {
  Harness h;
  const std::string uuid = h.create_sqs();
  h.settle();
  check_ipve(h.update(uuid, R"({"BatchSize":11})"),
             "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10");
  CHECK(h.state_of(uuid) == "Enabled");
  REQUIRE(h.update(uuid, R"({"MaximumBatchingWindowInSeconds":1})").status == 202);
  h.settle();
  Response r = h.update(uuid, R"({"BatchSize":11})");
  CHECK(r.status == 202);
  CHECK(parse_json(r.body)["MaximumBatchingWindowInSeconds"].GetInt() == 1);
}

TEST_CASE("an update can move the mapping to a qualified function and stores that ARN") {
  Harness h;
  const std::string uuid = h.create_sqs();
  h.settle();
  Response r = h.update(uuid, R"({"FunctionName":"arn:aws:lambda:us-east-1:123456789012:function:other-fn:1"})");
  REQUIRE(r.status == 202);
  CHECK(parse_json(r.body).str("FunctionArn") == "arn:aws:lambda:us-east-1:123456789012:function:other-fn:1");
  h.settle();
  CHECK(parse_json(h.get(uuid).body).str("FunctionArn") == "arn:aws:lambda:us-east-1:123456789012:function:other-fn:1");
}

TEST_CASE("an update to an unknown function is refused and changes nothing") {
  Harness h;
  const std::string uuid = h.create_sqs();
  h.settle();
  check_ipve(h.update(uuid, R"({"FunctionName":"doesnotexist"})"), "Function does not exist");
  Json j = parse_json(h.get(uuid).body);
  CHECK(j.str("State") == "Enabled");
  CHECK(j.str("FunctionArn") == kMyFn);
}

TEST_CASE("clearing FilterCriteria, ScalingConfig and FunctionResponseTypes on Update") {
  Harness h;
  const std::string uuid = h.create(
      R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:orders",)"
      R"("FilterCriteria":{"Filters":[{"Pattern":"{\"body\":{\"a\":[1]}}"}]},"ScalingConfig":{"MaximumConcurrency":5},)"
      R"("FunctionResponseTypes":["ReportBatchItemFailures"]})");
  h.settle();
  Json before = parse_json(h.get(uuid).body);
  CHECK(before.has("FilterCriteria"));
  CHECK(before.has("ScalingConfig"));
  CHECK(before["FunctionResponseTypes"].Size() == 1);
  REQUIRE(h.update(uuid, R"({"FilterCriteria":{},"ScalingConfig":{},"FunctionResponseTypes":[]})").status == 202);
  Json after = parse_json(h.get(uuid).body);
  CHECK_FALSE(after.has("FilterCriteria"));
  CHECK_FALSE(after.has("ScalingConfig"));
  CHECK(after["FunctionResponseTypes"].Empty());
}

TEST_CASE("a delete answers the full configuration in Deleting and the mapping is gone after the delay") {
  Harness h;
  const std::string uuid = h.create(
      R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:orders","Tags":{"team":"a"}})");
  const std::string arn = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:" + uuid;
  h.settle();
  Response r = h.remove(uuid);
  REQUIRE(r.status == 202);
  Json j = parse_json(r.body);
  CHECK(j.str("State") == "Deleting");
  CHECK(j.str("UUID") == uuid);
  CHECK(j.str("EventSourceArn") == kQueue);
  CHECK(j.str("FunctionArn") == kMyFn);
  CHECK(h.state_of(uuid) == "Deleting");
  check_error(h.remove(uuid), 400, "ResourceInUseException",
              R"({"Type":"User","Message":"Cannot delete the event source mapping because it is in use."})");
  h.settle();
  check_error(h.get(uuid), 404, "ResourceNotFoundException", kNotFoundBody);
  check_error(h.update(uuid, R"({"BatchSize":5})"), 404, "ResourceNotFoundException", kNotFoundBody);
  check_error(h.remove(uuid), 404, "ResourceNotFoundException", kNotFoundBody);
  check_error(h.call("GET", "/2017-03-31/tags/" + arn), 404, "ResourceNotFoundException",
              R"({"Type":"User","Message":"Event source mapping not found: )" + arn + "\"}");
  CHECK(h.wait_for_event("removed"));
}

TEST_CASE("a Get answered from the cache sees every write to the mappings table, whoever made it") {
  Harness h(0);
  const std::string uuid = h.create_sqs();
  REQUIRE(h.state_of(uuid) == "Enabled");  // settled in that Get's group, so not kept
  REQUIRE(h.get(uuid).status == 200);
  const std::size_t hits = h.api().get_cache_hits();
  CHECK(parse_json(h.get(uuid).body).str("BatchSize") == "<absent>");  // a number, not a string
  CHECK(h.api().get_cache_hits() == hits + 1);
  // An Update through the API.
  REQUIRE(h.update(uuid, R"({"BatchSize":7})").status == 202);
  CHECK(parse_json(h.get(uuid).body)["BatchSize"].GetInt() == 7);
  // A write that is no API request: a poller's LastProcessingResult, on the worker.
  REQUIRE(h.worker()
              .run_sync([&](storage::Connection& c) { return storage::set_last_processing_result(c, uuid, "OK"); })
              .is_ok());
  CHECK(parse_json(h.get(uuid).body).str("LastProcessingResult") == "OK");
  const std::size_t before = h.api().get_cache_hits();
  CHECK(parse_json(h.get(uuid).body).str("LastProcessingResult") == "OK");
  CHECK(h.api().get_cache_hits() == before + 1);
  // A cached mapping is still scoped to its region.
  check_error(h.call("GET", "/2015-03-31/event-source-mappings/" + uuid, {}, "eu-west-1"), 404,
              "ResourceNotFoundException", kNotFoundBody);
  // And a deleted one is gone.
  REQUIRE(h.remove(uuid).status == 202);
  h.settle();
  REQUIRE(h.wait_for_event("removed"));
  check_error(h.get(uuid), 404, "ResourceNotFoundException", kNotFoundBody);
}

TEST_CASE("unknown UUIDs, well-formed or not, answer 404 ResourceNotFoundException") {
  Harness h;
  for (const std::string& uuid : {new_uuid(), std::string("not-a-uuid")}) {
    INFO(uuid);
    check_error(h.get(uuid), 404, "ResourceNotFoundException", kNotFoundBody);
    check_error(h.update(uuid, R"({"BatchSize":5})"), 404, "ResourceNotFoundException", kNotFoundBody);
    check_error(h.remove(uuid), 404, "ResourceNotFoundException", kNotFoundBody);
  }
}

TEST_CASE("an update of an unknown UUID answers 404 before it validates the body") {
  Harness h;
  check_error(h.update(new_uuid(), R"({"BatchSize":11})"), 404, "ResourceNotFoundException", kNotFoundBody);
}

TEST_CASE("mappings are scoped to the region of the request") {
  Harness h;
  const std::string uuid = h.create_sqs();
  check_error(h.call("GET", "/2015-03-31/event-source-mappings/" + uuid, "", "eu-west-1"), 404,
              "ResourceNotFoundException", kNotFoundBody);
  Json list = parse_json(h.call("GET", "/2015-03-31/event-source-mappings", "", "eu-west-1").body);
  CHECK(list["EventSourceMappings"].Empty());
}

// ---- Create: validation order and errors -------------------------------------------------------

TEST_CASE("Create without an event source, or with an unsupported one, is an unrecognized event source") {
  Harness h;
  check_ipve(h.call("POST", "/2015-03-31/event-source-mappings", R"({"FunctionName":"doesnotexist"})"),
             "Unrecognized event source.");
  check_ipve(h.call("POST", "/2015-03-31/event-source-mappings",
                    R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:sns:us-east-1:123456789012:topic"})"),
             "Unrecognized event source.");
}

TEST_CASE("Create checks the parameter rules before it looks up the function") {
  Harness h;
  check_ipve(h.call("POST", "/2015-03-31/event-source-mappings",
                    R"({"FunctionName":"doesnotexist","EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:orders",)"
                    R"("DestinationConfig":{"OnSuccess":{"Destination":"arn:aws:sqs:us-east-1:123456789012:ok"}}})"),
             "Unsupported DestinationConfig parameter for given event source mapping type.");
}

TEST_CASE("Create with an unknown function is a 400 InvalidParameterValue, not a 404") {
  Harness h;
  check_ipve(h.call("POST", "/2015-03-31/event-source-mappings",
                    R"({"FunctionName":"doesnotexist","EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:orders"})"),
             "Function does not exist");
}

TEST_CASE("a body that is not JSON is a 400 InvalidParameterValue") {
  Harness h;
  Response r = h.call("POST", "/2015-03-31/event-source-mappings", "{not json");
  CHECK(r.status == 400);
  CHECK(header(r, "X-Amzn-Errortype") == "InvalidParameterValueException");
  CHECK_THAT(parse_json(r.body).str("message"), Catch::StartsWith("Could not parse request body into json: "));
}

TEST_CASE("a range violation is a 400 ValidationException without a Type member") {
  Harness h;
  check_error(h.call("POST", "/2015-03-31/event-source-mappings",
                     R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:orders","BatchSize":0})"),
              400, "ValidationException",
              R"({"message":"1 validation error detected: Value '0' at 'batchSize' failed to satisfy constraint: )"
              R"(Member must have value greater than or equal to 1"})");
}

TEST_CASE("every FunctionName form of the reference is accepted and stored as the recorded ARN") {
  Harness h;
  const std::pair<const char*, const char*> rows[] = {
      {"my-fn", "arn:aws:lambda:us-east-1:123456789012:function:my-fn"},
      {"my-fn:$LATEST", "arn:aws:lambda:us-east-1:123456789012:function:my-fn:$LATEST"},
      {"my-fn:1", "arn:aws:lambda:us-east-1:123456789012:function:my-fn:1"},
      {"my-fn:myalias", "arn:aws:lambda:us-east-1:123456789012:function:my-fn:myalias"},
      {"arn:aws:lambda:us-east-1:123456789012:function:other-fn", "arn:aws:lambda:us-east-1:123456789012:function:other-fn"},
      {"arn:aws:lambda:us-east-1:123456789012:function:other-fn:1",
       "arn:aws:lambda:us-east-1:123456789012:function:other-fn:1"},
      {"arn:aws:lambda:us-east-1:123456789012:function:other-fn:myalias",
       "arn:aws:lambda:us-east-1:123456789012:function:other-fn:myalias"},
  };
  int n = 0;
  for (const auto& [sent, expected] : rows) {
    INFO(sent);
    const std::string queue = "arn:aws:sqs:us-east-1:123456789012:q" + std::to_string(n++);
    Response r = h.call("POST", "/2015-03-31/event-source-mappings",
                        std::string(R"({"FunctionName":")") + sent + R"(","EventSourceArn":")" + queue + "\"}");
    REQUIRE(r.status == 202);
    Json j = parse_json(r.body);
    CHECK(j.str("State") == "Creating");
    CHECK(j.str("FunctionArn") == expected);
  }
}

TEST_CASE("resolve_function normalises partial ARNs and refuses another region or account") {
  Harness h;
  CHECK(*h.api().resolve_function("123456789012:function:my-fn", "us-east-1") == kMyFn);
  CHECK(*h.api().resolve_function("my-fn", "eu-west-1") == "arn:aws:lambda:eu-west-1:123456789012:function:my-fn");
  for (const char* name : {"arn:aws:lambda:eu-west-1:123456789012:function:my-fn", "999999999999:function:my-fn",
                           "doesnotexist", "bad name"}) {
    INFO(name);
    auto r = h.api().resolve_function(name, "us-east-1");
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == Code::kInvalidParameter);
    CHECK(r.status().message() == "Function does not exist");
  }
}

// ---- Create: per-source bodies -----------------------------------------------------------------

TEST_CASE("a Kinesis create answers the stream defaults") {
  Harness h;
  Response r = h.call("POST", "/2015-03-31/event-source-mappings",
                      R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:kinesis:us-east-1:123456789012:stream/clicks","StartingPosition":"LATEST"})");
  REQUIRE(r.status == 202);
  Json j = parse_json(r.body);
  CHECK(j["BatchSize"].GetInt() == 100);
  CHECK(j["ParallelizationFactor"].GetInt() == 1);
  CHECK(j["MaximumRetryAttempts"].GetInt() == -1);
  CHECK(j["MaximumRecordAgeInSeconds"].GetInt() == -1);
  CHECK(j["BisectBatchOnFunctionError"].IsFalse());
  CHECK(j["TumblingWindowInSeconds"].GetInt() == 0);
  CHECK(j["DestinationConfig"]["OnFailure"].ObjectEmpty());
  CHECK(j.str("LastProcessingResult") == "No records processed");
  CHECK(j.str("StateTransitionReason") == "User action");
  CHECK(j.str("StartingPosition") == "LATEST");
}

TEST_CASE("a self-managed Kafka create sorts the servers and defaults the consumer group to the UUID") {
  Harness h;
  Response r = h.call("POST", "/2015-03-31/event-source-mappings",
                      std::string(R"({"FunctionName":"my-fn","Topics":["topic"],)") +
                          R"("SelfManagedEventSource":{"Endpoints":{"KAFKA_BOOTSTRAP_SERVERS":["kafka:2000","kafka:1000"]}},)" +
                          R"("SourceAccessConfigurations":[{"Type":"BASIC_AUTH","URI":")" + kSecret + "\"}]}");
  REQUIRE(r.status == 202);
  Json j = parse_json(r.body);
  const std::string uuid = j.str("UUID");
  CHECK_FALSE(j.has("EventSourceArn"));
  CHECK(std::string(j["SelfManagedEventSource"]["Endpoints"]["KAFKA_BOOTSTRAP_SERVERS"][0].GetString()) == "kafka:1000");
  CHECK(std::string(j["SelfManagedEventSource"]["Endpoints"]["KAFKA_BOOTSTRAP_SERVERS"][1].GetString()) == "kafka:2000");
  CHECK(std::string(j["SelfManagedKafkaEventSourceConfig"]["ConsumerGroupId"].GetString()) == uuid);
  CHECK(j.str("StartingPosition") == "TRIM_HORIZON");
  CHECK(j.str("StateTransitionReason") == "USER_INITIATED");
  CHECK(j["BatchSize"].GetInt() == 100);
  CHECK_FALSE(j.has("MaximumBatchingWindowInSeconds"));
  CHECK_FALSE(j.has("FunctionResponseTypes"));
}

TEST_CASE("an MSK create keeps a given consumer group and defaults it otherwise") {
  Harness h;
  Response given = h.call("POST", "/2015-03-31/event-source-mappings",
                          R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:kafka:us-east-1:123456789012:cluster/c/1",)"
                          R"("Topics":["a"],"AmazonManagedKafkaEventSourceConfig":{"ConsumerGroupId":"mine"}})");
  REQUIRE(given.status == 202);
  CHECK(std::string(parse_json(given.body)["AmazonManagedKafkaEventSourceConfig"]["ConsumerGroupId"].GetString()) ==
        "mine");
  Response dflt = h.call("POST", "/2015-03-31/event-source-mappings",
                         R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:kafka:us-east-1:123456789012:cluster/c/1","Topics":["b"]})");
  REQUIRE(dflt.status == 202);
  Json j = parse_json(dflt.body);
  CHECK(std::string(j["AmazonManagedKafkaEventSourceConfig"]["ConsumerGroupId"].GetString()) == j.str("UUID"));
}

TEST_CASE("an empty Filters list is accepted and FilterCriteria is then omitted") {
  Harness h;
  Response r = h.call("POST", "/2015-03-31/event-source-mappings",
                      R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:orders","FilterCriteria":{"Filters":[]}})");
  REQUIRE(r.status == 202);
  CHECK_FALSE(parse_json(r.body).has("FilterCriteria"));
}

// ---- duplicates --------------------------------------------------------------------------------

TEST_CASE("a second mapping of the same queue and function is a 409 naming the existing UUID") {
  Harness h;
  const std::string first = h.create_sqs();
  const std::string message = R"(An event source mapping with SQS arn (\" arn:aws:sqs:us-east-1:123456789012:orders \") )"
                              R"(and function (\" my-fn \") already exists. Please update or delete the existing )"
                              R"(mapping with UUID )" + first;
  check_error(h.call("POST", "/2015-03-31/event-source-mappings",
                     R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:orders"})"),
              409, "ResourceConflictException", R"({"Type":"User","message":")" + message + "\"}");
  // The function given as an ARN is still printed by name.
  check_error(h.call("POST", "/2015-03-31/event-source-mappings",
                     R"({"FunctionName":"arn:aws:lambda:us-east-1:123456789012:function:my-fn","EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:orders"})"),
              409, "ResourceConflictException", R"({"Type":"User","message":")" + message + "\"}");
}

TEST_CASE("the same queue with another function or another qualifier is not a duplicate") {
  Harness h;
  h.create_sqs(kQueue, "my-fn");
  h.create_sqs(kQueue, "other-fn");
  h.create_sqs(kQueue, "my-fn:1");
}

TEST_CASE("a mapping in Deleting still counts as a duplicate until it is removed") {
  Harness h;
  const std::string first = h.create_sqs();
  h.settle();
  REQUIRE(h.remove(first).status == 202);
  CHECK(h.call("POST", "/2015-03-31/event-source-mappings",
               R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:orders"})")
            .status == 409);
  h.settle();
  h.create_sqs();
}

TEST_CASE("a duplicate stream mapping uses the stream wording") {
  Harness h;
  const std::string body =
      R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:kinesis:us-east-1:123456789012:stream/clicks","StartingPosition":"LATEST"})";
  const std::string first = h.create(body);
  check_error(h.call("POST", "/2015-03-31/event-source-mappings", body), 409, "ResourceConflictException",
              std::string(R"({"Type":"User","message":"The event source arn (\" )") + kStream +
                  R"( \") and function (\" my-fn \") provided mapping already exists. Please update or delete the )"
                  R"(existing mapping with UUID )" + first + "\"}");
}

TEST_CASE("a duplicate self-managed Kafka mapping echoes the servers as sent and the function ARN") {
  Harness h;
  auto kafka = [](const std::string& servers, const std::string& topic) {
    return std::string(R"({"FunctionName":"my-fn","Topics":[")") + topic +
           R"("],"SelfManagedEventSource":{"Endpoints":{"KAFKA_BOOTSTRAP_SERVERS":[)" + servers +
           R"(]}},"SourceAccessConfigurations":[{"Type":"BASIC_AUTH","URI":")" + kSecret + "\"}]}";
  };
  const std::string first = h.create(kafka(R"("kafka:1000")", "topic"));
  check_error(h.call("POST", "/2015-03-31/event-source-mappings", kafka(R"("kafka:2000","kafka:1000")", "topic")), 409,
              "ResourceConflictException",
              std::string(R"({"Type":"User","message":"An event source mapping with event source (\"kafka:2000,kafka:1000\"), )") +
                  R"(function (\")" + kMyFn +
                  R"(\"), topics (\"topic\") already exists. Please update or delete the existing mapping with UUID )" +
                  first + "\"}");
  h.create(kafka(R"("kafka:1000")", "topic_2"));
  h.create(kafka(R"("kafka:3000")", "topic"));
}

// ---- List --------------------------------------------------------------------------------------

TEST_CASE("List pages through mappings in creation order with an opaque marker") {
  Harness h;
  std::vector<std::string> created;
  for (int i = 0; i < 5; ++i) created.push_back(h.create_sqs("arn:aws:sqs:us-east-1:123456789012:q" + std::to_string(i)));

  std::vector<std::string> seen;
  std::string marker;
  int pages = 0;
  for (;;) {
    std::string target = "/2015-03-31/event-source-mappings?MaxItems=2";
    if (!marker.empty()) target += "&Marker=" + marker;
    Response r = h.call("GET", target);
    REQUIRE(r.status == 200);
    Json j = parse_json(r.body);
    auto page = listed_uuids(j);
    CHECK(page.size() <= 2);
    seen.insert(seen.end(), page.begin(), page.end());
    ++pages;
    if (!j.has("NextMarker")) break;
    marker = j.str("NextMarker");
    REQUIRE(pages < 10);
  }
  CHECK(pages == 3);
  CHECK(seen == created);

  Json all = parse_json(h.call("GET", "/2015-03-31/event-source-mappings").body);
  CHECK(listed_uuids(all) == created);
  CHECK_FALSE(all.has("NextMarker"));
}

TEST_CASE("List answers at most 100 mappings a page whatever MaxItems says") {
  Harness h(0);
  for (int i = 0; i < 101; ++i) h.create_sqs("arn:aws:sqs:us-east-1:123456789012:q" + std::to_string(i));
  Json first = parse_json(h.call("GET", "/2015-03-31/event-source-mappings?MaxItems=10000").body);
  CHECK(first["EventSourceMappings"].Size() == 100);
  REQUIRE(first.has("NextMarker"));
  Json second =
      parse_json(h.call("GET", "/2015-03-31/event-source-mappings?Marker=" + first.str("NextMarker")).body);
  CHECK(second["EventSourceMappings"].Size() == 1);
  CHECK_FALSE(second.has("NextMarker"));
}

TEST_CASE("a marker whose mapping was deleted continues from the next surviving mapping") {
  Harness h;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(h.create_sqs("arn:aws:sqs:us-east-1:123456789012:q" + std::to_string(i)));
  h.settle();
  Json page = parse_json(h.call("GET", "/2015-03-31/event-source-mappings?MaxItems=1").body);
  REQUIRE(listed_uuids(page) == std::vector<std::string>{ids[0]});
  REQUIRE(h.remove(ids[0]).status == 202);
  h.settle();
  check_error(h.get(ids[0]), 404, "ResourceNotFoundException", kNotFoundBody);
  Json next = parse_json(h.call("GET", "/2015-03-31/event-source-mappings?Marker=" + page.str("NextMarker")).body);
  CHECK(listed_uuids(next) == std::vector<std::string>{ids[1], ids[2]});
}

TEST_CASE("List filters by exact function ARN and event source ARN") {
  Harness h;
  const std::string a = h.create_sqs(kQueue, "my-fn");
  const std::string b = h.create_sqs(kQueue, "my-fn:1");
  const std::string c = h.create_sqs("arn:aws:sqs:us-east-1:123456789012:other", "my-fn");
  const std::string d = h.create_sqs(kQueue, "other-fn");
  auto list = [&](const std::string& query) {
    Response r = h.call("GET", "/2015-03-31/event-source-mappings?" + query);
    REQUIRE(r.status == 200);
    return listed_uuids(parse_json(r.body));
  };
  CHECK(list("FunctionName=my-fn") == std::vector<std::string>{a, c});
  CHECK(list("FunctionName=my-fn:1") == std::vector<std::string>{b});
  CHECK(list("FunctionName=arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn") ==
        std::vector<std::string>{a, c});
  CHECK(list("FunctionName=123456789012:function:other-fn") == std::vector<std::string>{d});
  CHECK(list(std::string("EventSourceArn=") + kQueue) == std::vector<std::string>{a, b, d});
  CHECK(list(std::string("EventSourceArn=") + kQueue + "&FunctionName=my-fn") == std::vector<std::string>{a});
  CHECK(list("FunctionName=my").empty());
  CHECK(list("FunctionName=doesnotexist").empty());
  CHECK(list("FunctionName=my-fn:myalias").empty());
  CHECK(list("FunctionName=arn:aws:lambda:eu-west-1:123456789012:function:my-fn").empty());
  CHECK(list("EventSourceArn=arn:aws:sqs:us-east-1:123456789012:missing").empty());
  CHECK(h.call("GET", "/2015-03-31/event-source-mappings?FunctionName=doesnotexist").body ==
        R"({"EventSourceMappings":[]})");
}

TEST_CASE("List refuses a MaxItems outside 1..10000 and an undecodable Marker") {
  Harness h;
  check_error(h.call("GET", "/2015-03-31/event-source-mappings?MaxItems=0"), 400, "ValidationException",
              R"({"message":"1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: )"
              R"(Member must have value greater than or equal to 1"})");
  check_error(h.call("GET", "/2015-03-31/event-source-mappings?MaxItems=10001"), 400, "ValidationException",
              R"({"message":"1 validation error detected: Value '10001' at 'maxItems' failed to satisfy constraint: )"
              R"(Member must have value less than or equal to 10000"})");
  CHECK(h.call("GET", "/2015-03-31/event-source-mappings?MaxItems=abc").status == 400);
  check_ipve(h.call("GET", "/2015-03-31/event-source-mappings?Marker=garbage"), "Invalid Marker: garbage");
}

TEST_CASE("the List route hides the filters of a KMS-encrypted mapping that the Get route shows") {
  Harness h;
  const std::string uuid = h.create(
      R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:orders",)"
      R"("KMSKeyArn":"arn:aws:kms:us-east-1:123456789012:key/k","FilterCriteria":{"Filters":[{"Pattern":"{\"a\":[1]}"}]}})");
  CHECK(parse_json(h.get(uuid).body).has("FilterCriteria"));
  Json list = parse_json(h.call("GET", "/2015-03-31/event-source-mappings").body);
  REQUIRE(list["EventSourceMappings"].Size() == 1);
  CHECK_FALSE(list["EventSourceMappings"][0].HasMember("FilterCriteria"));
  CHECK(list["EventSourceMappings"][0].HasMember("KMSKeyArn"));
}

// ---- tags --------------------------------------------------------------------------------------

TEST_CASE("tags sent on Create are listed by ListTags and never appear in the configuration") {
  Harness h;
  Response r = h.call("POST", "/2015-03-31/event-source-mappings",
                      R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:orders","Tags":{"team":"a","env":"dev"}})");
  REQUIRE(r.status == 202);
  CHECK_FALSE(parse_json(r.body).has("Tags"));
  const std::string arn = parse_json(r.body).str("EventSourceMappingArn");
  Response tags = h.call("GET", "/2017-03-31/tags/" + arn);
  CHECK(tags.status == 200);
  CHECK(tags.body == R"({"Tags":{"env":"dev","team":"a"}})");
  CHECK_FALSE(parse_json(h.get(parse_json(r.body).str("UUID")).body).has("Tags"));
}

TEST_CASE("TagResource and UntagResource answer 204 and ListTags shows the result") {
  Harness h;
  const std::string uuid = h.create_sqs();
  const std::string arn = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:" + uuid;
  CHECK(h.call("GET", "/2017-03-31/tags/" + arn).body == R"({"Tags":{}})");
  Response tag = h.call("POST", "/2017-03-31/tags/" + arn, R"({"Tags":{"a":"1","b":"2","c":"3"}})");
  CHECK(tag.status == 204);
  CHECK(tag.body.empty());
  // Clients percent-encode the ARN in the path.
  std::string encoded = arn;
  for (std::size_t pos; (pos = encoded.find(':')) != std::string::npos;) encoded.replace(pos, 1, "%3A");
  Response untag = h.call("DELETE", "/2017-03-31/tags/" + encoded + "?tagKeys=a&tagKeys=c");
  CHECK(untag.status == 204);
  CHECK(h.call("GET", "/2017-03-31/tags/" + encoded).body == R"({"Tags":{"b":"2"}})");
}

TEST_CASE("tag routes answer 404 for a well-formed mapping ARN that does not exist") {
  Harness h;
  const std::string arn = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:" + new_uuid();
  for (const char* method : {"GET", "POST", "DELETE"}) {
    INFO(method);
    std::string target = "/2017-03-31/tags/" + arn;
    if (std::string(method) == "DELETE") target += "?tagKeys=a";
    check_error(h.call(method, target, R"({"Tags":{"a":"1"}})"), 404, "ResourceNotFoundException",
                R"({"Type":"User","Message":"Event source mapping not found: )" + arn + "\"}");
  }
}

TEST_CASE("tag routes refuse a malformed mapping ARN with the taggable-resource pattern") {
  Harness h;
  const std::string uuid = h.create_sqs();
  const std::string pattern =
      R"(arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+))";
  for (const std::string& arn : {"arn:aws:lambda:us-east-1:123456789012:event-source-mapping:" + uuid + ":alias",
                                "arn:aws:lambda:us-east-1:123456789012:foobar:" + uuid}) {
    INFO(arn);
    check_error(h.call("GET", "/2017-03-31/tags/" + arn), 400, "ValidationException",
                R"({"message":"1 validation error detected: Value ')" + arn +
                    R"(' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: )" +
                    pattern + "\"}");
  }
}

TEST_CASE("tag routes answer 404 for a mapping ARN of another region or partition or account") {
  Harness h;
  const std::string uuid = h.create_sqs();
  const std::string home = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:" + uuid;
  REQUIRE(h.call("POST", "/2017-03-31/tags/" + home, R"({"Tags":{"a":"1"}})").status == 204);
  for (const std::string& arn : {"arn:aws:lambda:eu-west-1:123456789012:event-source-mapping:" + uuid,
                                "arn:aws-cn:lambda:us-east-1:123456789012:event-source-mapping:" + uuid,
                                "arn:aws:lambda:us-east-1:999999999999:event-source-mapping:" + uuid}) {
    for (const char* method : {"GET", "POST", "DELETE"}) {
      INFO(arn << " " << method);
      std::string target = "/2017-03-31/tags/" + arn;
      if (std::string(method) == "DELETE") target += "?tagKeys=a";
      check_error(h.call(method, target, R"({"Tags":{"b":"2"}})"), 404, "ResourceNotFoundException",
                  R"({"Type":"User","Message":"Event source mapping not found: )" + arn + "\"}");
    }
  }
  CHECK(h.call("GET", "/2017-03-31/tags/" + home).body == R"({"Tags":{"a":"1"}})");
}

TEST_CASE("TagResource refuses more than fifty tags on a mapping counting those it holds") {
  Harness h;
  const std::string arn = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:" + h.create_sqs();
  auto tags = [](int from, int to) {
    std::string body = R"({"Tags":{)";
    for (int i = from; i < to; ++i) body += (i > from ? "," : "") + ("\"k" + std::to_string(i) + "\":\"v\"");
    return body + "}}";
  };
  check_ipve(h.call("POST", "/2017-03-31/tags/" + arn, tags(0, 51)), "Number of tags exceeds resource tag limit.");
  CHECK(h.call("GET", "/2017-03-31/tags/" + arn).body == R"({"Tags":{}})");
  REQUIRE(h.call("POST", "/2017-03-31/tags/" + arn, tags(0, 50)).status == 204);
  check_ipve(h.call("POST", "/2017-03-31/tags/" + arn, tags(50, 51)), "Number of tags exceeds resource tag limit.");
  // Setting a key the mapping already has adds no tag.
  CHECK(h.call("POST", "/2017-03-31/tags/" + arn, R"({"Tags":{"k0":"new"}})").status == 204);
}

TEST_CASE("CreateEventSourceMapping refuses more than fifty tags") {
  Harness h;
  std::string tags;
  for (int i = 0; i < 51; ++i) tags += (i ? "," : "") + ("\"k" + std::to_string(i) + "\":\"v\"");
  check_ipve(h.call("POST", "/2015-03-31/event-source-mappings",
                    R"({"FunctionName":"my-fn","EventSourceArn":")" + std::string(kQueue) + R"(","Tags":{)" + tags + "}}"),
             "Number of tags exceeds resource tag limit.");
}

TEST_CASE("tag keys may not start with the reserved aws: prefix in any case") {
  Harness h;
  const std::string arn = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:" + h.create_sqs();
  for (const char* key : {"aws:team", "AWS:team", "Aws:team"}) {
    INFO(key);
    check_ipve(h.call("POST", "/2017-03-31/tags/" + arn, std::string(R"({"Tags":{")") + key + R"(":"a"}})"),
               "Tag keys starting with 'aws:' are reserved for internal use.");
    check_ipve(h.call("POST", "/2015-03-31/event-source-mappings",
                      R"({"FunctionName":"my-fn","EventSourceArn":")" + std::string(kQueue) + R"(","Tags":{")" + key +
                          R"(":"a"}})"),
               "Tag keys starting with 'aws:' are reserved for internal use.");
  }
  CHECK(h.call("POST", "/2017-03-31/tags/" + arn, R"({"Tags":{"awsteam":"a","team:aws":"b"}})").status == 204);
}

TEST_CASE("TagResource with an empty Tags map is refused with the recorded text") {
  Harness h;
  const std::string arn = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:" + h.create_sqs();
  check_ipve(h.call("POST", "/2017-03-31/tags/" + arn, R"({"Tags":{}})"),
             "An error occurred and the request cannot be processed.");
}

TEST_CASE("TagResource without Tags and UntagResource without tagKeys are validation errors") {
  Harness h;
  const std::string arn = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:" + h.create_sqs();
  check_error(h.call("POST", "/2017-03-31/tags/" + arn, "{}"), 400, "ValidationException",
              R"({"message":"1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null"})");
  check_error(h.call("DELETE", "/2017-03-31/tags/" + arn), 400, "ValidationException",
              R"({"message":"1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null"})");
}

TEST_CASE("CreateEventSourceMapping refuses a source in another region than the request's") {
  Harness h;
  for (const char* arn : {"arn:aws:sqs:eu-west-1:123456789012:orders", "arn:aws:kinesis:eu-west-1:123456789012:stream/s",
                          "arn:aws:sqs::123456789012:orders"}) {
    INFO(arn);
    std::string body = std::string(R"({"FunctionName":"my-fn","EventSourceArn":")") + arn + "\"";
    if (std::string_view(arn).find("kinesis") != std::string_view::npos) body += R"(,"StartingPosition":"LATEST")";
    check_ipve(h.call("POST", "/2015-03-31/event-source-mappings", body + "}"),
               "Event source region must match Lambda region us-east-1.");
  }
  // The same ARN is fine when the request is signed for its region.
  Response r = h.call("POST", "/2015-03-31/event-source-mappings",
                      R"({"FunctionName":"my-fn","EventSourceArn":"arn:aws:sqs:eu-west-1:123456789012:orders"})",
                      "eu-west-1");
  CHECK(r.status == 202);
}

TEST_CASE("AT_TIMESTAMP refuses a StartingPositionTimestamp in the future") {
  Harness h;  // the FakeClock stands at 1'700'000'000'000 ms
  auto body = [](const std::string& ts) {
    return std::string(R"({"FunctionName":"my-fn","EventSourceArn":")") + kStream +
           R"(","StartingPosition":"AT_TIMESTAMP","StartingPositionTimestamp":)" + ts + "}";
  };
  check_ipve(h.call("POST", "/2015-03-31/event-source-mappings", body("1700000000.5")),
             "StartingPositionTimestamp cannot be in the future.");
  check_ipve(h.call("POST", "/2015-03-31/event-source-mappings", body("1800000000")),
             "StartingPositionTimestamp cannot be in the future.");
  CHECK(h.call("POST", "/2015-03-31/event-source-mappings", body("1700000000")).status == 202);
}

// ---- routes and functions ----------------------------------------------------------------------

TEST_CASE("unknown methods and paths answer UnknownOperationException") {
  Harness h;
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"PATCH", "/2015-03-31/event-source-mappings/x"},
           {"DELETE", "/2015-03-31/event-source-mappings"},
           {"GET", "/2015-03-31/event-source-mappings/a/b"},
           {"GET", "/2015-03-31/event-source-mappingsX"},
           {"POST", "/2015-03-31/functions"}}) {
    INFO(method << " " << target);
    Response r = h.call(method, target);
    CHECK(r.status == 404);
    CHECK(header(r, "X-Amzn-Errortype") == "UnknownOperationException");
  }
}

TEST_CASE("a UUID carrying an encoded slash is one segment and gets the mapping's 404") {
  Harness h;
  for (const char* method : {"GET", "PUT", "DELETE"}) {
    INFO(method);
    check_error(h.call(method, "/2015-03-31/event-source-mappings/abc%2Fdef", "{}"), 404, "ResourceNotFoundException",
                kNotFoundBody);
    check_error(h.call(method, "/2015-03-31/event-source-mappings/abc%2fdef/", "{}"), 404,
                "ResourceNotFoundException", kNotFoundBody);
  }
}

TEST_CASE("an encoded mapping UUID is decoded after routing") {
  Harness h;
  const std::string uuid = h.create_sqs();
  std::string encoded;
  for (char c : uuid) encoded += c == '-' ? std::string("%2D") : std::string(1, c);
  Response r = h.call("GET", "/2015-03-31/event-source-mappings/" + encoded);
  CHECK(r.status == 200);
  CHECK(parse_json(r.body).str("UUID") == uuid);
}

TEST_CASE("GetFunction and ListFunctions answer for registered functions only") {
  Harness h;
  Response got = h.call("GET", "/2015-03-31/functions/my-fn");
  REQUIRE(got.status == 200);
  CHECK(std::string(parse_json(got.body)["Configuration"]["FunctionArn"].GetString()) == kMyFn);
  check_error(h.call("GET", "/2015-03-31/functions/nope"), 404, "ResourceNotFoundException",
              R"({"Type":"User","Message":"Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"})");
  Json all = parse_json(h.call("GET", "/2015-03-31/functions").body);
  CHECK(all["Functions"].Size() == 2);
}

TEST_CASE("with a transition delay of 0 an update answers Updating and is settled at once") {
  Harness h(0);
  const std::string uuid = h.create_sqs();
  h.settle();
  REQUIRE(h.state_of(uuid) == "Enabled");
  Response r = h.update(uuid, R"({"BatchSize":5})");
  REQUIRE(r.status == 202);
  CHECK(parse_json(r.body).str("State") == "Updating");
  // No clock movement: the stored row is already settled.
  CHECK(h.state_of(uuid) == "Enabled");
  CHECK(h.update(uuid, R"({"BatchSize":6})").status == 202);
}

TEST_CASE("with a transition delay of 0 a delete answers Deleting and the mapping is gone at once") {
  Harness h(0);
  const std::string uuid = h.create_sqs();
  h.settle();
  Response r = h.remove(uuid);
  REQUIRE(r.status == 202);
  CHECK(parse_json(r.body).str("State") == "Deleting");
  CHECK(h.get(uuid).status == 404);
}

TEST_CASE("a Create whose commit fails is answered 500, leaves no mapping and starts no poller") {
  Harness h;
  h.fail_commits(true);
  Response r = h.call("POST", "/2015-03-31/event-source-mappings",
                      std::string(R"({"FunctionName":"my-fn","EventSourceArn":")") + kQueue + "\"}");
  CHECK(r.status == 500);
  CHECK(header(r, "X-Amzn-Errortype") == "ServiceException");
  h.fail_commits(false);
  const Json listed = parse_json(h.call("GET", "/2015-03-31/event-source-mappings").body);
  CHECK(listed_uuids(listed).empty());
  CHECK(h.events().empty());
  // The worker recovered: the same Create now succeeds and the pollers hear of it.
  const std::string uuid = h.create_sqs();
  CHECK(h.wait_for_event("Creating"));
  CHECK(h.state_of(uuid) == "Creating");
}

TEST_CASE("a Delete whose commit fails keeps the mapping and its poller") {
  Harness h(0);
  const std::string uuid = h.create_sqs();
  REQUIRE(h.wait_for_event("Enabled"));
  h.fail_commits(true);
  CHECK(h.remove(uuid).status == 500);
  h.fail_commits(false);
  h.settle();
  CHECK(h.get(uuid).status == 200);
  CHECK(h.state_of(uuid) == "Enabled");
  const auto seen = h.events();
  CHECK(std::find(seen.begin(), seen.end(), "removed") == seen.end());
  CHECK(std::find(seen.begin(), seen.end(), "Deleting") == seen.end());
}
