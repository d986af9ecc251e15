#include "pollers/poller.h"

#include <spdlog/spdlog.h>

namespace esm::pollers {

std::shared_ptr<const EventFilter> compile_mapping_filter(const Mapping& m) {
  auto f = EventFilter::compile(m.filter_patterns);
  if (!f) {
    spdlog::warn("mapping {}: filter criteria do not compile; delivering every record", m.uuid);
    return std::make_shared<const EventFilter>();
  }
  return std::make_shared<const EventFilter>(std::move(*f));
}

}  // namespace esm::pollers
