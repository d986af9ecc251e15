#include "core/mapping.h"

#include "core/arn.h"

#include <array>
#include <utility>

namespace esm {
namespace {

constexpr std::array<std::pair<SourceKind, std::string_view>, 7> kKinds{{
    {SourceKind::kSqs, "sqs"},
    {SourceKind::kKinesis, "kinesis"},
    {SourceKind::kDynamoDb, "dynamodb"},
    {SourceKind::kMsk, "msk"},
    {SourceKind::kSelfManagedKafka, "self-managed-kafka"},
    {SourceKind::kMq, "mq"},
    {SourceKind::kDocumentDb, "documentdb"},
}};

constexpr std::array<std::pair<MappingState, std::string_view>, 7> kStates{{
    {MappingState::kCreating, "Creating"},
    {MappingState::kEnabling, "Enabling"},
    {MappingState::kEnabled, "Enabled"},
    {MappingState::kDisabling, "Disabling"},
    {MappingState::kDisabled, "Disabled"},
    {MappingState::kUpdating, "Updating"},
    {MappingState::kDeleting, "Deleting"},
}};

}  // namespace

std::string_view to_string(SourceKind k) {
  for (const auto& [kind, name] : kKinds)
    if (kind == k) return name;
  return "unknown";
}

std::optional<SourceKind> source_kind_from_string(std::string_view s) {
  for (const auto& [kind, name] : kKinds)
    if (name == s) return kind;
  return std::nullopt;
}

std::string_view to_string(MappingState s) {
  for (const auto& [state, name] : kStates)
    if (state == s) return name;
  return "unknown";
}

std::optional<MappingState> mapping_state_from_string(std::string_view s) {
  for (const auto& [state, name] : kStates)
    if (name == s) return state;
  return std::nullopt;
}

std::string mapping_arn_of(const Mapping& m) { return mapping_arn(m.region, m.account, m.uuid); }

std::string source_region_of(const Mapping& m) {
  auto arn = parse_arn(m.event_source_arn);
  return arn && !arn->region.empty() ? arn->region : m.region;
}

}  // namespace esm
