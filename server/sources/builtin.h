#pragma once
// The sources esmd emulates, registered in one list (builtin.cc).
//
// Threading: made at start-up, on the thread that starts App.

#include <memory>
#include <vector>

#include "core/clock.h"
#include "server/config.h"
#include "server/source.h"
#include "services/sqs/queue_engine.h"
#include "storage/db_worker.h"

namespace esm::server {

// What a source is built from. Each source owns its engine and front-end; they keep
// references to db and clock, which outlive every source (App's members).
struct SourceContext {
  storage::DbWorker& db;
  const Clock& clock;
  const Config& config;
};

struct BuiltinSources {
  std::vector<std::unique_ptr<Source>> sources;
  // The failure destination (pollers/failure_destination.h) sends a failed batch's record to
  // an esmd SQS queue: the SQS source's queues, owned by one of the sources above.
  sqs::QueueEngine* failure_queues = nullptr;
};

BuiltinSources make_builtin_sources(const SourceContext& context);

}  // namespace esm::server
