#pragma once
// ClusterDirectory: where a Kafka mapping's brokers are (issue 12). A self-managed mapping
// names its own (SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVERS, used as given); an
// MSK cluster ARN resolves to the brokers `--msk-cluster ARN=HOST:PORT,...` named for it, else
// to esmd's own broker. `aws kafka get-bootstrap-brokers` answers with the same address.
//
// Threading: filled at start-up (the named clusters at construction, esmd's own broker once its
// listener is bound, before the I/O threads run); read-only afterwards, from any thread.

#include <map>
#include <optional>
#include <string>

#include "core/mapping.h"

namespace esm::kafka {

class ClusterDirectory {
 public:
  // named: cluster ARN -> "host:port,host:port".
  explicit ClusterDirectory(std::map<std::string, std::string> named = {}) : named_(std::move(named)) {}

  // esmd's own broker as clients dial it ("localhost:9092"); empty while it has none.
  void set_own_broker(std::string bootstrap) { own_ = std::move(bootstrap); }
  const std::string& own_broker() const { return own_; }

  // The brokers of an MSK cluster: the named ones, else esmd's own (empty when esmd runs no
  // broker).
  std::string msk_bootstrap(const std::string& cluster_arn) const;
  // Whether --msk-cluster named the cluster.
  bool is_named(const std::string& cluster_arn) const { return named_.count(cluster_arn) != 0; }
  // The brokers a Kafka mapping reads: comma-joined; empty for another kind of source.
  std::string bootstrap_of(const Mapping& m) const;
  // Whether the mapping reads esmd's own broker.
  bool reads_own_broker(const Mapping& m) const;

 private:
  std::map<std::string, std::string> named_;
  std::string own_;
};

}  // namespace esm::kafka
