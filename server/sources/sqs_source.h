#pragma once
// SqsSource: esmd's SQS queues (services/sqs), their query/JSON front-end (api/sqs) and the
// SQS poller (pollers/sqs_poller).
//
// Threading: see server/source.h.

#include <memory>

#include "api/sqs/sqs_api.h"
#include "server/source.h"
#include "server/sources/builtin.h"
#include "services/sqs/queue_engine.h"

namespace esm::server {

class SqsSource final : public Source {
 public:
  explicit SqsSource(const SourceContext& context);

  // For the failure destination, which sends to an esmd queue.
  sqs::QueueEngine& queues() { return *queues_; }

  std::string_view name() const override { return "sqs"; }
  Status open(storage::Connection& c, std::int64_t now_ms) override;
  Status recover(storage::Connection& c, std::int64_t now_ms) override;
  std::optional<std::int64_t> tick(storage::Connection& c, std::int64_t now_ms) override;
  bool matches(const api::Request& req) const override;
  void handle(api::Request req, api::Reply reply) override;
  void register_pollers(pollers::PollerRegistry& registry) override;
  std::optional<Status> check_source(storage::Connection& c, const Mapping& m) override;

 private:
  std::unique_ptr<sqs::QueueEngine> queues_;
  std::unique_ptr<api::SqsApi> api_;
};

}  // namespace esm::server
