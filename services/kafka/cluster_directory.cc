#include "services/kafka/cluster_directory.h"

namespace esm::kafka {

std::string ClusterDirectory::msk_bootstrap(const std::string& cluster_arn) const {
  if (auto it = named_.find(cluster_arn); it != named_.end()) return it->second;
  return own_;
}

std::string ClusterDirectory::bootstrap_of(const Mapping& m) const {
  if (m.kind == SourceKind::kMsk) return msk_bootstrap(m.event_source_arn);
  if (m.kind != SourceKind::kSelfManagedKafka) return {};
  std::string joined;
  for (const auto& s : m.bootstrap_servers) {
    if (!joined.empty()) joined += ',';
    joined += s;
  }
  return joined;
}

bool ClusterDirectory::reads_own_broker(const Mapping& m) const {
  return m.kind == SourceKind::kMsk && !is_named(m.event_source_arn) && !own_.empty();
}

}  // namespace esm::kafka
