#pragma once
// What every mapping poller needs (PollerDeps) and what the PollerManager asks of it. A source
// adds what only it needs (its service engine) when it registers its maker
// (pollers/poller_registry.h), so PollerDeps names no source.

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>

#include "core/function_registry.h"
#include "core/invoke.h"
#include "core/mapping.h"
#include "core/scheduler.h"
#include "pollers/filter.h"
#include "storage/db_worker.h"

namespace esm::pollers {

class FailureDestination;

struct PollerDeps {
  boost::asio::io_context& ioc;
  storage::DbWorker& db;
  Invoker& invoker;
  const FunctionRegistry& functions;
  Scheduler& scheduler;  // every wait and every reading of the time
  int default_concurrency = 5;
  FailureDestination* failures = nullptr;  // on-failure destinations of stream-like sources
};

// One poller per mapping. Threading: every member may be called from any thread; the poller
// posts the work to its own strand.
class Poller {
 public:
  virtual ~Poller() = default;
  virtual void start() = 0;
  // A new configuration or state; it applies from the next batch.
  virtual void update(Mapping mapping) = 0;
  // Stops polling; on_stopped runs (on the poller's strand) once no invocation is in flight.
  virtual void stop(std::function<void()> on_stopped) = 0;
};

// The mapping's FilterCriteria, compiled. The API refuses patterns that do not compile, so only
// a hand-edited database gets a failure here: the poller then delivers every record, since
// filtering with a guess could delete messages or checkpoint past records.
std::shared_ptr<const EventFilter> compile_mapping_filter(const Mapping& m);

}  // namespace esm::pollers
