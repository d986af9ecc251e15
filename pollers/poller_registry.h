#pragma once
// PollerRegistry: which poller a mapping of each source kind gets. A source registers one
// maker (register_sqs_poller(), register_kinesis_poller(), next to their pollers), capturing
// its own service; each source calls its registration (server/sources/, Source::register_pollers)
// and the composition root (server/app.cc) hands the registry to the PollerManager, which knows
// no source.
//
// Threading: filled before the PollerManager starts, read-only afterwards.

#include <functional>
#include <map>
#include <memory>

#include "core/mapping.h"
#include "pollers/poller.h"

namespace esm::pollers {

using PollerMaker = std::function<std::shared_ptr<Poller>(const PollerDeps& deps, const Mapping& mapping)>;

class PollerRegistry {
 public:
  // One maker per kind; a second registration of a kind replaces the first.
  void add(SourceKind kind, PollerMaker maker) { makers_[kind] = std::move(maker); }
  // Null when no source registered the kind (its mappings get no poller).
  const PollerMaker* find(SourceKind kind) const {
    auto it = makers_.find(kind);
    return it == makers_.end() ? nullptr : &it->second;
  }

 private:
  std::map<SourceKind, PollerMaker> makers_;
};

}  // namespace esm::pollers
