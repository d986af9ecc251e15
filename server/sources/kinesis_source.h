#pragma once
// KinesisSource: esmd's Kinesis streams (services/kinesis), their JSON front-end (api/kinesis)
// and the Kinesis poller (pollers/kinesis_poller). --kinesis-shard-limits applies here.
//
// Threading: see server/source.h.

#include <memory>

#include "api/kinesis/kinesis_api.h"
#include "server/source.h"
#include "server/sources/builtin.h"
#include "services/kinesis/stream_engine.h"

namespace esm::server {

class KinesisSource final : public Source {
 public:
  explicit KinesisSource(const SourceContext& context);

  std::string_view name() const override { return "kinesis"; }
  Status open(storage::Connection& c, std::int64_t now_ms) override;
  Status recover(storage::Connection& c, std::int64_t now_ms) override;
  std::optional<std::int64_t> tick(storage::Connection& c, std::int64_t now_ms) override;
  bool matches(const api::Request& req) const override;
  void handle(api::Request req, api::Reply reply) override;
  void register_pollers(pollers::PollerRegistry& registry) override;
  std::optional<Status> check_source(storage::Connection& c, const Mapping& m) override;

 private:
  std::unique_ptr<kinesis::StreamEngine> streams_;
  std::unique_ptr<api::KinesisApi> api_;
};

}  // namespace esm::server
