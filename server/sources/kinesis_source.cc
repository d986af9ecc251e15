#include "server/sources/kinesis_source.h"

#include "pollers/kinesis_poller.h"

namespace esm::server {

KinesisSource::KinesisSource(const SourceContext& context)
    : streams_(std::make_unique<kinesis::StreamEngine>(context.db, context.config.account_id)),
      api_(std::make_unique<api::KinesisApi>(context.db, *streams_, context.clock)) {
  streams_->set_shard_limits(context.config.kinesis_shard_limits);
}

Status KinesisSource::open(storage::Connection& c, std::int64_t) { return streams_->load(c); }

Status KinesisSource::recover(storage::Connection& c, std::int64_t) { return streams_->recover(c); }

std::optional<std::int64_t> KinesisSource::tick(storage::Connection& c, std::int64_t now_ms) {
  return streams_->tick(c, now_ms);
}

bool KinesisSource::matches(const api::Request& req) const { return api::KinesisApi::matches(req); }

void KinesisSource::handle(api::Request req, api::Reply reply) { api_->handle(std::move(req), std::move(reply)); }

void KinesisSource::register_pollers(pollers::PollerRegistry& registry) {
  pollers::register_kinesis_poller(registry, *streams_);
}

std::optional<Status> KinesisSource::check_source(storage::Connection&, const Mapping& m) {
  if (m.kind != SourceKind::kKinesis) return std::nullopt;
  if (!streams_->find_by_arn(m.event_source_arn)) return invalid_parameter("Stream not found: " + m.event_source_arn);
  return Status::ok();
}

}  // namespace esm::server
