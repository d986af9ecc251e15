#pragma once
// KafkaSource: esmd's Kafka broker. Its log (services/kafka/log_engine.h) and group
// coordinator (services/kafka/group_coordinator.h), its wire front-end (api/kafka/) and its
// TCP listener (server/kafka_listener.h) on --kafka-port. On the HTTP port it answers the
// Amazon MSK control plane (api/msk_api.h: `aws kafka get-bootstrap-brokers`) from its cluster
// directory, with or without a broker. MSK and self-managed Kafka mappings get their poller here
// (pollers/kafka_poller.h), reading the brokers the directory names: esmd's own or another
// cluster.
//
// Threading: see server/source.h; start() and stop() on the thread that starts and stops App.

#include <memory>

#include "api/kafka/kafka_api.h"
#include "api/msk_api.h"
#include "server/kafka_listener.h"
#include "server/source.h"
#include "server/sources/builtin.h"
#include "services/kafka/cluster_directory.h"
#include "services/kafka/group_coordinator.h"
#include "services/kafka/log_engine.h"

namespace esm::server {

class KafkaSource final : public Source {
 public:
  explicit KafkaSource(const SourceContext& context);
  ~KafkaSource() override;

  std::string_view name() const override { return "kafka"; }
  Status open(storage::Connection& c, std::int64_t now_ms) override;
  Status recover(storage::Connection& c, std::int64_t now_ms) override;
  std::optional<std::int64_t> tick(storage::Connection& c, std::int64_t now_ms) override;
  bool matches(const api::Request& req) const override { return api::MskApi::matches(req); }
  void handle(api::Request req, api::Reply reply) override { reply(msk_.answer(req)); }
  void register_pollers(pollers::PollerRegistry& registry) override;
  std::optional<Status> check_source(storage::Connection&, const Mapping&) override { return std::nullopt; }
  Status start(boost::asio::io_context& ioc, Scheduler& scheduler) override;
  void stop() override;
  void release() override;
  std::string health_json() const override;

  kafka::LogEngine& log() { return *log_; }
  const kafka::ClusterDirectory& clusters() const { return clusters_; }

 private:
  const SourceContext context_;
  kafka::ClusterDirectory clusters_;
  const api::MskApi msk_{clusters_};
  std::unique_ptr<kafka::LogEngine> log_;
  std::unique_ptr<kafka::GroupCoordinator> groups_;
  std::unique_ptr<api::KafkaApi> api_;
  std::unique_ptr<KafkaListener> listener_;
};

}  // namespace esm::server
