#pragma once
// Source: one event source esmd emulates (its service, its poller and its wire front-end),
// seen by the composition root. Adding a source is a class implementing this interface in
// server/sources/ plus one line in make_builtin_sources() (server/sources/builtin.cc); App
// iterates the list for start-up, recovery, the DbWorker tick, request dispatch, the pollers
// and the mapping existence check, and knows no source by name.
//
// Threading: open(), recover(), tick() and check_source() run on the DbWorker thread (open()
// inline before the worker starts); matches() and handle() on an I/O thread;
// register_pollers() once at start-up, before the pollers start.

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "api/http.h"
#include "api/lambda_api.h"
#include "core/mapping.h"
#include "core/scheduler.h"
#include "core/status.h"
#include "pollers/poller_registry.h"
#include "storage/db_worker.h"

namespace esm::server {

class Source {
 public:
  virtual ~Source() = default;

  // For logs.
  virtual std::string_view name() const = 0;
  // Loads the source's memory from the database at start-up, before the worker runs.
  virtual Status open(storage::Connection& c, std::int64_t now_ms) = 0;
  // DbWorker recovery after a failed commit (DbWorker::add_recovery): answers the source's
  // waiters with an error and reloads its memory from disk.
  virtual Status recover(storage::Connection& c, std::int64_t now_ms) = 0;
  // DbWorker tick: the source's timed work; returns when it next needs to run.
  virtual std::optional<std::int64_t> tick(storage::Connection& c, std::int64_t now_ms) = 0;

  // True when the request belongs to this source's front-end; handle() then answers it.
  virtual bool matches(const api::Request& req) const = 0;
  virtual void handle(api::Request req, api::Reply reply) = 0;

  // Registers the poller that mappings of this source's kind get.
  virtual void register_pollers(pollers::PollerRegistry& registry) = 0;
  // Whether a new mapping's source exists (control-plane.md §5.2): nullopt when the mapping's
  // source is not this one's, else OK or the error CreateEventSourceMapping answers.
  virtual std::optional<Status> check_source(storage::Connection& c, const Mapping& m) = 0;

  // A source with a listener of its own (the Kafka broker) starts it here, once the database
  // worker runs, and stops it first thing at shutdown.
  virtual Status start(boost::asio::io_context&, Scheduler&) { return Status::ok(); }
  virtual void stop() {}
  // Members the source adds to GET /_esmd/health (`"name":value` JSON, without braces), or
  // empty.
  virtual std::string health_json() const { return {}; }
};

// The sources of one esmd, in registration order: open, recover and tick in that order, and a
// request goes to the first whose matches() claims it. It is LambdaApi's SourceDirectory.
class SourceSet final : public api::SourceDirectory {
 public:
  explicit SourceSet(std::vector<std::unique_ptr<Source>> sources) : sources_(std::move(sources)) {}

  // Start-up, before db.start(): opens every source and registers its recovery.
  Status open(storage::DbWorker& db, std::int64_t now_ms);
  // The earliest next run any source asked for.
  std::optional<std::int64_t> tick(storage::Connection& c, std::int64_t now_ms);
  // The source whose front-end the request belongs to, or null.
  Source* front_end_for(const api::Request& req) const;
  void register_pollers(pollers::PollerRegistry& registry);
  Status start(boost::asio::io_context& ioc, Scheduler& scheduler);
  void stop();
  std::string health_json() const;
  // The verdict of the source the mapping belongs to; OK for a kind no source emulates
  // (DynamoDB streams, Kafka, MQ, ...), which is accepted as well formed.
  Status check_source(storage::Connection& c, const Mapping& m) override;

 private:
  std::vector<std::unique_ptr<Source>> sources_;
};

}  // namespace esm::server
