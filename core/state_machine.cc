#include "core/state_machine.h"

namespace esm {

Transition on_create(bool enabled) {
  // AWS answers Enabled=false with Disabled at once: there is no Creating step (CP §3.2).
  if (!enabled) return {MappingState::kDisabled, std::nullopt, false};
  return {MappingState::kCreating, MappingState::kEnabled, false};
}

Result<Transition> on_update(MappingState current, std::optional<bool> enabled) {
  if (!is_stable(current)) return in_use(kUpdateInUse);
  const bool is_enabled = current == MappingState::kEnabled;
  if (enabled && *enabled != is_enabled) {
    // A flip wins over any other change in the same call.
    return Transition{*enabled ? MappingState::kEnabling : MappingState::kDisabling,
                      *enabled ? MappingState::kEnabled : MappingState::kDisabled, false};
  }
  return Transition{MappingState::kUpdating, current, false};
}

Result<Transition> on_delete(MappingState current) {
  if (!is_stable(current)) return in_use(kDeleteInUse);
  return Transition{MappingState::kDeleting, std::nullopt, true};
}

}  // namespace esm
