#include "server/sources/sqs_source.h"

#include "pollers/sqs_poller.h"

namespace esm::server {

SqsSource::SqsSource(const SourceContext& context)
    : queues_(std::make_unique<sqs::QueueEngine>(context.db, context.config.account_id)),
      api_(std::make_unique<api::SqsApi>(context.db, *queues_, context.clock, context.config.account_id)) {}

Status SqsSource::open(storage::Connection& c, std::int64_t now_ms) { return queues_->load(c, now_ms); }

Status SqsSource::recover(storage::Connection& c, std::int64_t now_ms) { return queues_->recover(c, now_ms); }

std::optional<std::int64_t> SqsSource::tick(storage::Connection& c, std::int64_t now_ms) {
  return queues_->tick(c, now_ms);
}

bool SqsSource::matches(const api::Request& req) const { return api::SqsApi::matches(req); }

void SqsSource::handle(api::Request req, api::Reply reply) { api_->handle(std::move(req), std::move(reply)); }

void SqsSource::register_pollers(pollers::PollerRegistry& registry) {
  pollers::register_sqs_poller(registry, *queues_);
}

std::optional<Status> SqsSource::check_source(storage::Connection&, const Mapping& m) {
  if (m.kind != SourceKind::kSqs) return std::nullopt;
  if (!queues_->find_by_arn(m.event_source_arn))
    return invalid_parameter(
        "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error "
        "Message: The specified queue does not exist.");
  return Status::ok();
}

}  // namespace esm::server
