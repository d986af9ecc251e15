#include "server/sources/kafka_source.h"

#include <spdlog/spdlog.h>

#include "api/mapping_codec.h"
#include "pollers/kafka_poller.h"
#include "pollers/rdkafka_consumer.h"

namespace esm::server {

KafkaSource::KafkaSource(const SourceContext& context)
    : context_(context), clusters_(context.config.msk_clusters), log_(std::make_unique<kafka::LogEngine>(context.db)) {}

KafkaSource::~KafkaSource() = default;

Status KafkaSource::open(storage::Connection& c, std::int64_t) { return log_->load(c); }

Status KafkaSource::recover(storage::Connection& c, std::int64_t) { return log_->recover(c); }

std::optional<std::int64_t> KafkaSource::tick(storage::Connection& c, std::int64_t now_ms) {
  return log_->tick(c, now_ms);
}

void KafkaSource::register_pollers(pollers::PollerRegistry& registry) {
  pollers::register_kafka_poller(
      registry,
      [this](const Mapping& m) {
        const char* block =
            m.kind == SourceKind::kMsk ? "AmazonManagedKafkaEventSourceConfig" : "SelfManagedKafkaEventSourceConfig";
        return pollers::KafkaCluster{clusters_.bootstrap_of(m), api::consumer_group_of(m.extras_json, block)};
      },
      pollers::make_rdkafka_consumer);
}

Status KafkaSource::start(boost::asio::io_context& ioc, Scheduler& scheduler) {
  const Config& config = context_.config;
  if (config.kafka_port < 0) return Status::ok();
  groups_ = std::make_unique<kafka::GroupCoordinator>(scheduler);
  api_ = std::make_unique<api::KafkaApi>(context_.db, *log_, *groups_, context_.clock, ioc.get_executor());
  if (Status s = context_.db.run_sync([this](storage::Connection& c) { return api_->load_groups(c); }); !s.is_ok())
    return s;
  listener_ = std::make_unique<KafkaListener>(
      ioc, [api = api_.get()](std::shared_ptr<const std::string> frame, std::string host, api::KafkaRespond respond) {
        api->handle(std::move(frame), std::move(host), std::move(respond));
      });
  if (Status s = listener_->listen(config.host, config.kafka_port); !s.is_ok()) return s;

  api::BrokerInfo broker;
  broker.auto_create_topics = config.kafka_auto_create_topics;
  if (!config.kafka_advertised_listener.empty()) {
    const auto colon = config.kafka_advertised_listener.rfind(':');
    broker.host = config.kafka_advertised_listener.substr(0, colon);
    broker.port = std::stoi(config.kafka_advertised_listener.substr(colon + 1));
  } else {
    // A wildcard address is not one a client can dial; on one machine, localhost is.
    const bool wildcard = config.host == "0.0.0.0" || config.host == "::";
    broker.host = wildcard ? "localhost" : config.host;
    broker.port = listener_->port();
  }
  api_->set_broker(broker);
  clusters_.set_own_broker(broker.host + ":" + std::to_string(broker.port));
  spdlog::info("esmd Kafka broker listening on {}:{} (advertised as {}:{})", config.host, listener_->port(),
               broker.host, broker.port);
  return Status::ok();
}

void KafkaSource::stop() {
  if (listener_) listener_->stop();
  if (groups_) groups_->shutdown();
}

void KafkaSource::release() {
  if (!pollers::drain_rdkafka_destroys(std::chrono::seconds(5)))
    spdlog::warn("shutdown: a Kafka consumer was still leaving its cluster after 5 s");
  listener_.reset();
  api_.reset();
  groups_.reset();
}

std::string KafkaSource::health_json() const {
  if (!listener_ || !api_) return R"("kafka":null)";
  const api::BrokerInfo& b = api_->broker();
  return R"("kafka":{"port":)" + std::to_string(listener_->port()) + R"(,"advertised":")" + b.host + ":" +
         std::to_string(b.port) + "\"}";
}

}  // namespace esm::server
