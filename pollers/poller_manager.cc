#include "pollers/poller_manager.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "pollers/kinesis_poller.h"
#include "pollers/sqs_poller.h"

namespace esm::pollers {

PollerManager::PollerManager(PollerDeps deps) : deps_(deps), strand_(boost::asio::make_strand(deps.ioc)) {}

void PollerManager::start(const std::vector<Mapping>& mappings) {
  for (const auto& m : mappings) notify(m, false);
}

std::shared_ptr<Poller> PollerManager::make_poller(const Mapping& m) {
  if (m.kind == SourceKind::kSqs) return std::make_shared<SqsPoller>(deps_, m);
  if (m.kind == SourceKind::kKinesis && deps_.streams) return std::make_shared<KinesisPoller>(deps_, m);
  return nullptr;
}

void PollerManager::notify(const Mapping& m, bool removed) {
  if (m.kind != SourceKind::kSqs && m.kind != SourceKind::kKinesis) return;
  boost::asio::post(strand_, [this, m, removed] {
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
    auto poller = make_poller(m);
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
