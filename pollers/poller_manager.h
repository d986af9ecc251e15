#pragma once
// PollerManager: owns the pollers, one per mapping whose source kind has a maker in the
// PollerRegistry, created, updated and stopped as mappings change.
//
// Threading: notify() from any thread (LambdaApi calls it on the DbWorker thread); the poller
// table lives on its own strand.

#include <boost/asio/strand.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapping.h"
#include "pollers/poller.h"
#include "pollers/poller_registry.h"

namespace esm::pollers {

class PollerManager {
 public:
  PollerManager(PollerDeps deps, PollerRegistry registry);
  void start(const std::vector<Mapping>& mappings);
  void notify(const Mapping& m, bool removed);
  // Stops every poller; in-flight invocations finish on the io_context if it still runs.
  void stop();

 private:
  PollerDeps deps_;
  PollerRegistry registry_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  std::map<std::string, std::shared_ptr<Poller>> pollers_;
};

}  // namespace esm::pollers
