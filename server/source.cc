#include "server/source.h"

namespace esm::server {

Status SourceSet::open(storage::DbWorker& db, std::int64_t now_ms) {
  for (auto& source : sources_) {
    Source* s = source.get();
    if (Status st = db.run_sync([&](storage::Connection& c) { return s->open(c, now_ms); }); !st.is_ok()) return st;
    db.add_recovery([s](storage::Connection& c, std::int64_t now) { return s->recover(c, now); });
  }
  return Status::ok();
}

std::optional<std::int64_t> SourceSet::tick(storage::Connection& c, std::int64_t now_ms) {
  std::optional<std::int64_t> next;
  for (auto& source : sources_)
    if (auto t = source->tick(c, now_ms); t && (!next || *t < *next)) next = t;
  return next;
}

Source* SourceSet::front_end_for(const api::Request& req) const {
  for (const auto& source : sources_)
    if (source->matches(req)) return source.get();
  return nullptr;
}

void SourceSet::register_pollers(pollers::PollerRegistry& registry) {
  for (auto& source : sources_) source->register_pollers(registry);
}

Status SourceSet::start(boost::asio::io_context& ioc, Scheduler& scheduler) {
  for (auto& source : sources_)
    if (Status s = source->start(ioc, scheduler); !s.is_ok()) return s;
  return Status::ok();
}

void SourceSet::stop() {
  for (auto& source : sources_) source->stop();
}

std::string SourceSet::health_json() const {
  std::string out;
  for (const auto& source : sources_) {
    std::string member = source->health_json();
    if (member.empty()) continue;
    if (!out.empty()) out += ',';
    out += member;
  }
  return out;
}

Status SourceSet::check_source(storage::Connection& c, const Mapping& m) {
  for (auto& source : sources_)
    if (auto verdict = source->check_source(c, m)) return *verdict;
  return Status::ok();
}

}  // namespace esm::server
