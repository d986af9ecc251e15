#pragma once
// App: the composition root. Owns every long-lived object and wires them together.
//
// Construction order (members below, top to bottom): clock, database worker, function
// registry, invocation log, the APIs (Lambda, admin), the sources (server/sources/builtin.cc;
// each owns its engine and its front-end), the io_context, the function invoker (it runs on
// the io_context), the pollers' scheduler and failure destination, the pollers, and the HTTP
// server.
// Shutdown order (stop()): stop accepting (HTTP, then the sources' own listeners and the Kafka
// group coordinator's waits), stop the pollers, stop the database worker after it
// has committed every queued job, wait (bounded) until those answers are written, then stop
// the io_context and join its threads, and let the sources free what lives on the io_context
// (the io_context is destroyed before them). Destruction then kills still-running exec: children (the
// invoker, destroyed before the io_context whose handlers still reference its parts).

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "api/admin_api.h"
#include "api/lambda_api.h"
#include "api/request_guard.h"
#include "core/clock.h"
#include "core/destination_log.h"
#include "core/function_registry.h"
#include "core/invocation_log.h"
#include "pollers/asio_scheduler.h"
#include "pollers/failure_destination.h"
#include "pollers/invoker.h"
#include "pollers/poller_manager.h"
#include "server/config.h"
#include "server/http_server.h"
#include "server/memory_trim.h"
#include "server/source.h"
#include "storage/db_worker.h"
#include "storage/read_pool.h"

namespace esm::server {

class App {
 public:
  explicit App(Config config);
  ~App();

  // Opens the database, registers functions, binds the port and starts the threads.
  Status start();
  int port() const { return http_ ? http_->port() : 0; }
  // Blocks until SIGINT/SIGTERM, then shuts down.
  void run_until_signal();
  void stop();

 private:
  void start_pollers();
  // Test only (ESMD_TEST_CLOCK_FILE): SIGUSR1 moves the clock, see app.cc.
  void watch_test_clock(const std::string& offset_file);
  void dispatch(api::Request req, api::Reply reply);

  Config config_;
  ShiftableClock clock_;  // offset 0 unless the test-only clock hook moved it
  std::unique_ptr<storage::DbWorker> db_;
  std::unique_ptr<storage::ReadPool> reads_;
  std::unique_ptr<FunctionRegistry> functions_;
  std::unique_ptr<InvocationLog> invocations_;
  DestinationLog destinations_;
  std::unique_ptr<api::LambdaApi> lambda_;
  std::unique_ptr<api::AdminApi> admin_;
  std::unique_ptr<api::RequestGuard> guard_;  // Host and Origin checks before routing
  std::unique_ptr<SourceSet> sources_;
  // The SQS source's queues, where the failure destination sends (owned by sources_).
  sqs::QueueEngine* failure_queues_ = nullptr;
  boost::asio::io_context ioc_;
  std::unique_ptr<pollers::FunctionInvoker> invoker_;
  std::unique_ptr<pollers::AsioScheduler> scheduler_;
  std::unique_ptr<pollers::FailureDestination> failures_;
  std::unique_ptr<pollers::PollerManager> pollers_;
  std::unique_ptr<boost::asio::signal_set> test_clock_signal_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<MemoryTrim> trim_;  // returns freed heap to the system every 10 s
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

}  // namespace esm::server
