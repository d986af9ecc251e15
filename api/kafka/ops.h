#pragma once
// The Kafka front-end's operations (one small function per API) and what they share; private
// to api/kafka/.

#include <memory>
#include <string>

#include "api/kafka/kafka_api.h"
#include "api/kafka/wire.h"
#include "services/kafka/group_coordinator.h"
#include "services/kafka/log_error.h"

namespace esm::api {

// One request being answered.
struct KafkaApi::Call {
  KafkaApi& api;
  std::int16_t api_key = 0;
  std::int16_t version = 0;
  std::int32_t correlation_id = 0;
  std::string client_id;
  std::string client_host;
  std::shared_ptr<const std::string> frame;  // keeps the body's bytes alive
  kafka_wire::Reader body;
  KafkaRespond respond;

  // A writer with the response header (correlation id) written.
  kafka_wire::Writer response() const {
    kafka_wire::Writer w;
    w.i32(correlation_id);
    return w;
  }
  void reply(kafka_wire::Writer& w) const { respond(KafkaOutcome::reply(w.take())); }
  static KafkaOutcome done(kafka_wire::Writer& w) { return KafkaOutcome::reply(w.take()); }
  // A request that does not parse: Kafka closes the connection.
  void close() const { respond(KafkaOutcome::close()); }
};
using Call = KafkaApi::Call;
using CallPtr = std::shared_ptr<Call>;

// Kafka's error codes (clients/src/main/java/org/apache/kafka/common/protocol/Errors.java).
namespace kafka_error {
inline constexpr std::int16_t kUnknownServerError = -1;
inline constexpr std::int16_t kNone = 0;
inline constexpr std::int16_t kOffsetOutOfRange = 1;
inline constexpr std::int16_t kCorruptMessage = 2;
inline constexpr std::int16_t kUnknownTopicOrPartition = 3;
inline constexpr std::int16_t kMessageTooLarge = 10;
inline constexpr std::int16_t kCoordinatorNotAvailable = 15;
inline constexpr std::int16_t kInvalidTopicException = 17;
inline constexpr std::int16_t kInvalidRequiredAcks = 21;
inline constexpr std::int16_t kUnsupportedVersion = 35;
inline constexpr std::int16_t kTopicAlreadyExists = 36;
inline constexpr std::int16_t kInvalidPartitions = 37;
inline constexpr std::int16_t kInvalidReplicationFactor = 38;
inline constexpr std::int16_t kInvalidConfig = 40;
inline constexpr std::int16_t kInvalidRequest = 42;
inline constexpr std::int16_t kUnsupportedForMessageFormat = 43;
inline constexpr std::int16_t kOutOfOrderSequenceNumber = 45;
inline constexpr std::int16_t kInvalidProducerEpoch = 47;
inline constexpr std::int16_t kKafkaStorageError = 56;
inline constexpr std::int16_t kInvalidRecord = 87;
}  // namespace kafka_error

std::int16_t error_code(kafka::LogError e);
std::int16_t error_code(kafka::GroupError e);
// The error_message Kafka sends with a code (CreateTopics v1+, FindCoordinator v1+).
std::string error_message(kafka::LogError e, const std::string& topic);

struct KafkaOps {
  static void api_versions(const CallPtr& call);
  static void metadata(const CallPtr& call);
  static void produce(const CallPtr& call);
  static void fetch(const CallPtr& call);
  static void list_offsets(const CallPtr& call);
  static void init_producer_id(const CallPtr& call);
  static void create_topics(const CallPtr& call);
  static void delete_topics(const CallPtr& call);
  static void describe_configs(const CallPtr& call);
  static void find_coordinator(const CallPtr& call);
  static void join_group(const CallPtr& call);
  static void sync_group(const CallPtr& call);
  static void heartbeat(const CallPtr& call);
  static void leave_group(const CallPtr& call);
  static void offset_commit(const CallPtr& call);
  static void offset_fetch(const CallPtr& call);
  static void describe_groups(const CallPtr& call);
  static void list_groups(const CallPtr& call);
  static void delete_groups(const CallPtr& call);

  // Runs job on the DbWorker; reply is sent after the commit, or an error built by on_error.
  static void run(const CallPtr& call, bool durable, std::function<KafkaOutcome(storage::Connection&)> job,
                  std::function<KafkaOutcome()> on_error);
  static storage::DbWorker& db(const CallPtr& call) { return call->api.db_; }
  static kafka::LogEngine& log(const CallPtr& call) { return call->api.log_; }
  static kafka::GroupCoordinator& groups(const CallPtr& call) { return call->api.groups_; }
  static const Clock& clock(const CallPtr& call) { return call->api.clock_; }
  static const BrokerInfo& broker(const CallPtr& call) { return call->api.broker_; }
  static boost::asio::any_io_executor timers(const CallPtr& call) { return call->api.timers_; }
};

}  // namespace esm::api
