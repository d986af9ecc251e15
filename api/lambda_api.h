#pragma once
// LambdaApi: the Lambda REST-JSON routes esmd serves — event-source mappings, their tags, and
// GetFunction/ListFunctions for registered functions — plus the transition settler that moves
// mappings out of Creating/Updating/... (control-plane.md §1–§10).
//
// Threading: handle() runs on an I/O thread; it parses and checks what needs no database there,
// then posts a job to the DbWorker; the reply is sent from the job's completion, after commit.
// tick() runs on the DbWorker thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "api/get_cache.h"
#include "api/http.h"
#include "api/mapping_codec.h"
#include "core/clock.h"
#include "core/function_registry.h"
#include "core/mapping.h"
#include "storage/db_worker.h"
#include "storage/read_pool.h"

namespace esm::api {

// Answers whether an event source exists (CP §5.1 step 4). Runs on the DbWorker thread.
class SourceDirectory {
 public:
  virtual ~SourceDirectory() = default;
  virtual Status check_source(storage::Connection& c, const Mapping& m) = 0;
};

struct LambdaOptions {
  std::string account = "000000000000";
  int transition_delay_ms = 500;
};

class LambdaApi {
 public:
  // Called on the DbWorker thread after a mapping changed (removed: it is gone).
  using Observer = std::function<void(const Mapping& m, bool removed)>;

  LambdaApi(storage::DbWorker& db, FunctionRegistry& functions, const Clock& clock, LambdaOptions options);

  void set_source_directory(SourceDirectory* dir) { sources_ = dir; }
  // Get and List read through these connections on the I/O thread, when set (file-backed
  // databases); otherwise they run on the DbWorker like every change.
  void set_read_pool(storage::ReadPool* reads) { reads_ = reads; }
  void set_observer(Observer o) { observer_ = std::move(o); }
  // For tests: how many Gets the cache answered.
  std::size_t get_cache_hits() const { return get_cache_.hits(); }

  // True when the request belongs to these routes.
  static bool matches(const Request& req);
  void handle(Request req, Reply reply);

  // DbWorker tick: settles due transitions; returns when it next needs to run.
  std::optional<std::int64_t> tick(storage::Connection& c, std::int64_t now_ms);

  // The function ARN a FunctionName denotes for this region, if the function exists.
  Result<std::string> resolve_function(const std::string& function_name, const std::string& region) const;

 private:
  void create(Request& req, Reply reply);
  void get(const std::string& uuid, Request& req, Reply reply);
  void list(Request& req, Reply reply);
  void update(const std::string& uuid, Request& req, Reply reply);
  void remove(const std::string& uuid, Request& req, Reply reply);
  void tags(const std::string& arn, Request& req, Reply reply);
  void get_function(const std::string& name, Request& req, Reply reply);
  void list_functions(Request& req, Reply reply);

  // Runs fn on the DbWorker; its Response is sent after the commit (500 if the commit failed).
  void run_job(Reply reply, std::function<Response(storage::Connection&)> fn);
  // A read-only fn: on the read pool if there is one, else as a job.
  void run_read(Reply reply, std::function<Response(storage::Connection&)> fn);
  void notify(const Mapping& m, bool removed);
  void settle_now(Mapping& m);

  storage::DbWorker& db_;
  FunctionRegistry& functions_;
  const Clock& clock_;
  LambdaOptions options_;
  SourceDirectory* sources_ = nullptr;
  storage::ReadPool* reads_ = nullptr;
  // Its version is bumped by the DbWorker's connection: the DbWorker stops before this goes.
  GetCache get_cache_;
  Observer observer_;
  // DbWorker thread only: the next settle time, known until a job schedules a transition.
  std::optional<std::int64_t> next_settle_;
  bool settle_dirty_ = true;
};

// Source-kind rules for a Create or an Update (CP §5.2, §5.4) on the merged mapping.
Status check_source_rules(const Mapping& merged, const MappingRequest& req, bool is_create);
// The source kind an EventSourceArn denotes, or nullopt (`Unrecognized event source.`).
std::optional<SourceKind> classify_source(const std::string& arn);
// True when one FilterCriteria pattern compiles (pollers::EventFilter::compile).
bool is_valid_filter_pattern(const std::string& pattern);

}  // namespace esm::api
