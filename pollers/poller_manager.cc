#include "pollers/poller_manager.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

namespace esm::pollers {

PollerManager::PollerManager(PollerDeps deps, PollerRegistry registry)
    : deps_(deps), registry_(std::move(registry)), strand_(boost::asio::make_strand(deps.ioc)) {}

void PollerManager::start(const std::vector<Mapping>& mappings) {
  for (const auto& m : mappings) notify(m, false);
}

void PollerManager::notify(const Mapping& m, bool removed) {
  const PollerMaker* maker = registry_.find(m.kind);
  if (!maker) return;
  boost::asio::post(strand_, [this, m, removed, maker] {
    auto it = pollers_.find(m.uuid);
    if (removed) {
      if (it == pollers_.end()) return;
      auto poller = it->second;
      pollers_.erase(it);
      poller->stop([uuid = m.uuid] { spdlog::info("mapping {}: poller stopped", uuid); });
      return;
    }
    if (it != pollers_.end()) {
      it->second->update(m);
      return;
    }
    auto poller = (*maker)(deps_, m);
    if (!poller) return;
    pollers_.emplace(m.uuid, poller);
    poller->start();
  });
}

void PollerManager::stop() {
  boost::asio::post(strand_, [this] {
    for (auto& [uuid, p] : pollers_) p->stop([] {});
    pollers_.clear();
  });
}

}  // namespace esm::pollers
