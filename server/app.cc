#include "server/app.h"

#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "api/errors.h"
#include "server/sources/builtin.h"
#include "storage/function_store.h"
#include "storage/mapping_store.h"

namespace esm::server {

App::App(Config config) : config_(std::move(config)) {}

App::~App() { stop(); }

Status App::start() {
  std::string path = ":memory:";
  if (!config_.in_memory) {
    std::error_code ec;
    std::filesystem::create_directories(config_.data_dir, ec);
    if (ec) return internal_error("cannot create --data-dir " + config_.data_dir + ": " + ec.message());
    path = (std::filesystem::path(config_.data_dir) / "esmd.sqlite3").string();
    if (Status s = storage::prepare_database_file(path); !s.is_ok()) return s;
  }
  auto conn = storage::Connection::open(
      path, config_.durability == "normal" ? storage::Durability::kNormal : storage::Durability::kFull);
  if (!conn) return conn.status();
  if (Status s = storage::migrate(**conn); !s.is_ok()) return s;

  functions_ = std::make_unique<FunctionRegistry>(config_.invoke_endpoint, config_.invoke_endpoint_concurrency,
                                                  config_.invoke_endpoint_timeout_ms);
  auto registered = storage::load_functions(**conn);
  if (!registered) return internal_error("cannot read the registered functions: " + registered.status().message());
  for (auto& f : *registered) {
    // Saved by PUT /_esmd/functions: a command from the network runs only when allowed.
    if (auto kind = parse_target(f.target); !config_.allow_api_exec && kind && *kind == TargetKind::kExec) {
      spdlog::warn("function {}: its exec: target was registered over HTTP and is not loaded (start with "
                   "--allow-api-exec to load it, or name it with --function)", f.name);
      continue;
    }
    functions_->put(f);
  }
  for (const auto& f : config_.functions) functions_->put(f);

  db_ = std::make_unique<storage::DbWorker>(std::move(conn).value(), clock_);
  lambda_ = std::make_unique<api::LambdaApi>(
      *db_, *functions_, clock_, api::LambdaOptions{config_.account_id, config_.transition_delay_ms});
  if (!config_.in_memory) {
    // One reader per I/O thread; an in-memory database has no second connection to open.
    auto reads = storage::ReadPool::open(path, config_.threads);
    if (!reads) return reads.status();
    reads_ = std::move(reads).value();
    lambda_->set_read_pool(reads_.get());
  }
  invocations_ = std::make_unique<InvocationLog>();
  invoker_ = std::make_unique<pollers::FunctionInvoker>(ioc_, *functions_, *invocations_, clock_);
  admin_ = std::make_unique<api::AdminApi>(*db_, *functions_, *invocations_, *invoker_, kVersion, config_.account_id);
  auto builtin = make_builtin_sources(SourceContext{*db_, clock_, config_});
  failure_queues_ = builtin.failure_queues;
  sources_ = std::make_unique<SourceSet>(std::move(builtin.sources));
  if (Status s = sources_->open(*db_, clock_.now_ms()); !s.is_ok()) return s;
  lambda_->set_source_directory(sources_.get());
  admin_->set_destinations(&destinations_);
  admin_->set_allow_exec(config_.allow_api_exec);
  guard_ = std::make_unique<api::RequestGuard>(api::GuardOptions{
      api::RequestGuard::is_loopback_address(config_.host), config_.allowed_hosts, config_.cors_origins});
  start_pollers();
  if (const char* f = std::getenv("ESMD_TEST_CLOCK_FILE"); f && *f) watch_test_clock(f);
  // An unreadable mappings table must not start esmd with no pollers.
  auto mappings = db_->run_sync([](storage::Connection& c) { return storage::all_mappings(c); });
  if (!mappings) return internal_error("cannot read the event source mappings: " + mappings.status().message());
  pollers_->start(*mappings);
  db_->start([this](storage::Connection& c, std::int64_t now) {
    std::optional<std::int64_t> next = lambda_->tick(c, now);
    if (auto t = sources_->tick(c, now); t && (!next || *t < *next)) next = t;
    return next;
  });

  if (Status s = sources_->start(ioc_, *scheduler_); !s.is_ok()) return s;
  admin_->set_health_extra([this] { return sources_->health_json(); });

  http_ = std::make_unique<HttpServer>(ioc_, [this](api::Request req, api::Reply reply) {
    dispatch(std::move(req), std::move(reply));
  });
  if (Status s = http_->listen(config_.host, config_.port); !s.is_ok()) return s;
  trim_ = std::make_unique<MemoryTrim>(ioc_, std::chrono::seconds(10));
  trim_->start();
  for (int i = 0; i < config_.threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
  spdlog::info("esmd {} listening on http://{}:{} ({}, region {}, account {})", kVersion, config_.host, port(),
               config_.in_memory ? "in memory" : path, config_.region, config_.account_id);
  return Status::ok();
}

// The pollers' composition: each source registers its own poller (Source::register_pollers).
void App::start_pollers() {
  scheduler_ = std::make_unique<pollers::AsioScheduler>(ioc_, clock_);
  failures_ = std::make_unique<pollers::FailureDestination>(*db_, *failure_queues_, destinations_, clock_);
  pollers::PollerRegistry registry;
  sources_->register_pollers(registry);
  pollers_ = std::make_unique<pollers::PollerManager>(
      pollers::PollerDeps{ioc_, *db_, *invoker_, *functions_, *scheduler_, 5, failures_.get()}, std::move(registry));
  lambda_->set_observer([this](const Mapping& m, bool removed) { pollers_->notify(m, removed); });
}

// A test moves esmd's time forward without waiting for it (tests/integration/
// test_kinesis_poller_age.py): it writes the clock offset in milliseconds to the file named by
// ESMD_TEST_CLOCK_FILE and sends SIGUSR1. Only a process that may signal esmd can do that, and
// only when the variable was set at start-up; nothing reachable from the network can.
void App::watch_test_clock(const std::string& offset_file) {
  if (!test_clock_signal_) {
    spdlog::warn("test clock enabled: SIGUSR1 sets the clock offset from {}", offset_file);
    test_clock_signal_ = std::make_unique<boost::asio::signal_set>(ioc_, SIGUSR1);
  }
  test_clock_signal_->async_wait([this, offset_file](const boost::system::error_code& ec, int) {
    if (ec) return;
    std::ifstream in(offset_file);
    std::int64_t offset = 0;
    if (in >> offset) {
      clock_.set_offset_ms(offset);
      scheduler_->clock_changed();
      db_->poke();
      spdlog::info("test clock: offset {} ms", offset);
    } else {
      spdlog::warn("test clock: {} holds no offset", offset_file);
    }
    watch_test_clock(offset_file);
  });
}

void App::dispatch(api::Request req, api::Reply reply) {
  if (auto refused = guard_->check(req)) return reply(std::move(*refused));
  if (guard_->is_cross_origin(req))
    reply = [origin = std::string(req.header("origin")), reply = std::move(reply)](api::Response r) {
      api::RequestGuard::decorate(origin, r);
      reply(std::move(r));
    };
  req.region = api::region_from_authorization(req.header("authorization"));
  if (req.region.empty()) req.region = config_.region;
  if (Source* source = sources_->front_end_for(req)) return source->handle(std::move(req), std::move(reply));
  if (api::AdminApi::matches(req)) return admin_->handle(std::move(req), std::move(reply));
  if (api::LambdaApi::matches(req)) return lambda_->handle(std::move(req), std::move(reply));
  reply(api::lambda_error({Code::kUnknownOperation, "Unknown operation: " + req.method + " " + req.path}));
}

void App::run_until_signal() {
  boost::asio::io_context signals_ctx;
  boost::asio::signal_set signals(signals_ctx, SIGINT, SIGTERM);
  signals.async_wait([](const boost::system::error_code&, int sig) { spdlog::info("signal {}: shutting down", sig); });
  signals_ctx.run();
  stop();
}

void App::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (http_) http_->stop();
  if (trim_) trim_->stop();
  if (sources_) sources_->stop();
  if (pollers_) pollers_->stop();
  // Commit what is queued, then let the I/O threads write those answers: a change that was
  // saved is also acknowledged. Long polls still waiting are cut at the deadline.
  if (db_) db_->stop();
  if (http_ && !http_->wait_idle(std::chrono::seconds(2))) spdlog::info("shutdown: unanswered requests dropped");
  ioc_.stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  if (sources_) sources_->release();
  spdlog::info("esmd stopped");
}

}  // namespace esm::server
