#pragma once
// The mapping lifecycle (control-plane.md §3). Pure functions: no clock, no storage.
//
//   (none)            -> Creating    [create, Enabled absent or true]
//   (none)            -> Disabled    [create, Enabled=false]
//   Creating          -> Enabled     [settle]
//   Enabled           -> Disabling   [update, Enabled=false]
//   Disabling         -> Disabled    [settle]
//   Disabled          -> Enabling    [update, Enabled=true]
//   Enabling          -> Enabled     [settle]
//   Enabled|Disabled  -> Updating    [update that does not flip Enabled]
//   Updating          -> prior stable state [settle]
//   Enabled|Disabled  -> Deleting    [delete]
//   Deleting          -> (removed)   [settle]
//   any transitional  -> unchanged; update/delete refused with kInUse

#include <optional>

#include "core/mapping.h"
#include "core/status.h"

namespace esm {

struct Transition {
  MappingState now;                       // the state the response shows
  std::optional<MappingState> settle_to;  // where it settles; nullopt: stable already, or removal
  bool removes = false;                   // settling deletes the mapping (Delete)
};

Transition on_create(bool enabled);
// `enabled` is the request's Enabled member, if it sent one.
Result<Transition> on_update(MappingState current, std::optional<bool> enabled);
Result<Transition> on_delete(MappingState current);

inline constexpr const char* kUpdateInUse = "Cannot update the event source mapping because it is in use.";
inline constexpr const char* kDeleteInUse = "Cannot delete the event source mapping because it is in use.";

}  // namespace esm
