#pragma once
// KafkaApi: the Kafka wire protocol's front-end. The listener (server/kafka_listener.h) hands
// it each request frame; it decodes the request, asks the log engine (services/kafka/
// log_engine.h, through DbWorker jobs) or the group coordinator, and encodes the answer. Every
// Kafka word (API keys, versions, error codes, field layouts) lives here.
//
// The versions each API answers are one table (kApis in kafka_api.cc, reference/kafka.md A.3):
// every minimum is advertised as 0 (librdkafka switches compression off otherwise), every
// maximum stays below the API's first flexible version except ApiVersions, and a request for
// a version esmd does not implement, or an API it does not know, closes the connection as
// Kafka does. An ApiVersions request of an unknown version gets the v0-format
// UNSUPPORTED_VERSION answer clients use to retry.
//
// Threading: handle() from any I/O thread. Replies come through Respond, from an I/O thread,
// the DbWorker thread or a scheduler thread; the listener hands them to the connection.

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/clock.h"
#include "services/kafka/group_coordinator.h"
#include "services/kafka/log_engine.h"
#include "storage/db_worker.h"

namespace esm::api {

// What the broker tells clients about itself.
struct BrokerInfo {
  std::int32_t node_id = 1;
  std::string host = "127.0.0.1";  // the advertised address clients dial after bootstrap
  std::int32_t port = 9092;
  std::string cluster_id = "esmd-kafka-cluster";
  bool auto_create_topics = true;
};

// What a request comes to.
struct KafkaOutcome {
  enum class Kind { kReply, kNoReply, kClose };
  Kind kind = Kind::kReply;
  std::string bytes;  // kReply: the response after its size field
  static KafkaOutcome reply(std::string b) { return {Kind::kReply, std::move(b)}; }
  static KafkaOutcome none() { return {Kind::kNoReply, {}}; }
  static KafkaOutcome close() { return {Kind::kClose, {}}; }
};
using KafkaRespond = std::function<void(KafkaOutcome)>;

class KafkaApi {
 public:
  KafkaApi(storage::DbWorker& db, kafka::LogEngine& log, kafka::GroupCoordinator& groups, const Clock& clock,
           boost::asio::any_io_executor timers);
  ~KafkaApi();

  void set_broker(BrokerInfo info);
  const BrokerInfo& broker() const { return broker_; }

  // frame: one request, after its size field. respond is called exactly once.
  void handle(std::shared_ptr<const std::string> frame, std::string client_host, KafkaRespond respond);

  // Start-up (DbWorker thread): tells the coordinator which groups have committed offsets.
  Status load_groups(storage::Connection& c);

  struct Call;

 private:
  friend struct KafkaOps;
  storage::DbWorker& db_;
  kafka::LogEngine& log_;
  kafka::GroupCoordinator& groups_;
  const Clock& clock_;
  boost::asio::any_io_executor timers_;
  BrokerInfo broker_;
};

}  // namespace esm::api
