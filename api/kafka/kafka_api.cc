#include "api/kafka/kafka_api.h"

#include <spdlog/spdlog.h>

#include <array>

#include "api/kafka/ops.h"

namespace esm::api {
namespace {

using Op = void (*)(const CallPtr&);

// The APIs esmd's broker answers (reference/kafka.md A.3). Advertised: 0..max. Implemented:
// min..max; a lower version closes the connection, as Kafka does for versions it removed.
struct ApiSpec {
  std::int16_t key;
  std::int16_t min;
  std::int16_t max;
  Op op;
};
constexpr std::array<ApiSpec, 19> kApis{{
    {0, 3, 7, &KafkaOps::produce},
    {1, 4, 11, &KafkaOps::fetch},
    {2, 1, 5, &KafkaOps::list_offsets},
    {3, 0, 8, &KafkaOps::metadata},
    {8, 2, 7, &KafkaOps::offset_commit},
    {9, 1, 5, &KafkaOps::offset_fetch},
    {10, 0, 2, &KafkaOps::find_coordinator},
    {11, 0, 5, &KafkaOps::join_group},
    {12, 0, 3, &KafkaOps::heartbeat},
    {13, 0, 3, &KafkaOps::leave_group},
    {14, 0, 3, &KafkaOps::sync_group},
    {15, 0, 4, &KafkaOps::describe_groups},
    {16, 0, 2, &KafkaOps::list_groups},
    {18, 0, 3, &KafkaOps::api_versions},
    {19, 0, 4, &KafkaOps::create_topics},
    {20, 0, 3, &KafkaOps::delete_topics},
    {22, 0, 1, &KafkaOps::init_producer_id},
    {32, 0, 3, &KafkaOps::describe_configs},
    {42, 0, 1, &KafkaOps::delete_groups},
}};
constexpr std::int16_t kApiVersionsKey = 18;
constexpr std::int16_t kApiVersionsMax = 3;

const ApiSpec* find_api(std::int16_t key) {
  for (const auto& a : kApis)
    if (a.key == key) return &a;
  return nullptr;
}

}  // namespace

KafkaApi::KafkaApi(storage::DbWorker& db, kafka::LogEngine& log, kafka::GroupCoordinator& groups, const Clock& clock,
                   boost::asio::any_io_executor timers)
    : db_(db), log_(log), groups_(groups), clock_(clock), timers_(std::move(timers)) {}

KafkaApi::~KafkaApi() = default;

void KafkaApi::set_broker(BrokerInfo info) { broker_ = std::move(info); }

Status KafkaApi::load_groups(storage::Connection& c) {
  auto groups = log_.offset_groups(c);
  if (!groups) return internal_error("cannot read the Kafka groups' committed offsets");
  for (const auto& g : *groups) groups_.note_offsets(g);
  return Status::ok();
}

void KafkaApi::handle(std::shared_ptr<const std::string> frame, std::string client_host, KafkaRespond respond) {
  kafka_wire::Reader header(*frame);
  const std::int16_t key = header.i16();
  const std::int16_t version = header.i16();
  const std::int32_t correlation_id = header.i32();
  std::optional<std::string> client_id = header.nullable_string();
  if (!header.ok()) {
    spdlog::debug("kafka: a request too short for its header from {}: closing", client_host);
    return respond(KafkaOutcome::close());
  }
  const ApiSpec* api = find_api(key);
  // ApiVersions of any version is answered (A.4.1): an unknown version in the v0 format.
  if (key == kApiVersionsKey && version > kApiVersionsMax) {
    kafka_wire::Writer w;
    w.i32(correlation_id).i16(kafka_error::kUnsupportedVersion).array_length(1);
    w.i16(kApiVersionsKey).i16(0).i16(kApiVersionsMax);
    return respond(KafkaOutcome::reply(w.take()));
  }
  if (!api || version < api->min || version > api->max) {
    spdlog::warn("kafka: {} sent API key {} version {}, which esmd does not serve: closing the connection",
                 client_host, key, version);
    return respond(KafkaOutcome::close());
  }
  // Request header v2 (flexible versions; here only ApiVersions v3) adds tagged fields.
  if (key == kApiVersionsKey && version >= 3) header.skip_tags();
  if (!header.ok()) return respond(KafkaOutcome::close());
  std::string_view body = header.rest();
  auto call = std::make_shared<Call>(Call{*this, key, version, correlation_id, client_id.value_or(""),
                                          std::move(client_host), std::move(frame), kafka_wire::Reader(body),
                                          std::move(respond)});
  try {
    api->op(call);
  } catch (const std::exception& e) {
    spdlog::error("kafka: API key {} v{} failed: {}", key, version, e.what());
    call->close();
  }
}

void KafkaOps::api_versions(const CallPtr& call) {
  const bool flexible = call->version >= 3;
  if (flexible) {
    call->body.compact_string();  // client_software_name
    call->body.compact_string();  // client_software_version
    call->body.skip_tags();
    if (!call->body.ok()) return call->close();
  }
  kafka_wire::Writer w = call->response();  // ApiVersions answers always use header v0
  w.i16(kafka_error::kNone);
  if (flexible) w.compact_array_length(kApis.size());
  else w.array_length(kApis.size());
  for (const auto& a : kApis) {
    w.i16(a.key).i16(0).i16(a.max);
    if (flexible) w.empty_tags();
  }
  if (call->version >= 1) w.i32(0);  // throttle_time_ms
  if (flexible) w.empty_tags();
  call->reply(w);
}

void KafkaOps::run(const CallPtr& call, bool durable, std::function<KafkaOutcome(storage::Connection&)> job,
                   std::function<KafkaOutcome()> on_error) {
  auto work = [call, job = std::move(job), on_error](storage::Connection& c) -> storage::DbWorker::Done {
    auto out = std::make_shared<KafkaOutcome>(job(c));
    return [call, out, on_error](const Status& commit) {
      if (commit.is_ok()) return call->respond(std::move(*out));
      spdlog::error("kafka: API key {}: the commit failed: {}", call->api_key, commit.message());
      call->respond(on_error());
    };
  };
  auto refused = [call, on_error](const Status& why) {
    spdlog::error("kafka: API key {}: refused: {}", call->api_key, why.message());
    call->respond(on_error());
  };
  if (durable) db(call).submit(std::move(work), std::move(refused));
  else db(call).submit_relaxed(std::move(work), std::move(refused));
}

}  // namespace esm::api
