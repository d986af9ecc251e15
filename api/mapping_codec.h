#pragma once
// JSON codec for the event-source-mapping API: the request members of Create/Update with their
// model-layer checks (types, ranges, enums; control-plane.md §5.3), and the
// EventSourceMappingConfiguration response body (§6). AWS member spellings live here.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/mapping.h"
#include "core/status.h"

namespace esm::api {

// Model patterns that ValidationException messages quote (botocore NamespacedFunctionName, Arn).
extern const char* const kFunctionNamePattern;
extern const char* const kEventSourceArnPattern;

struct MappingRequest {
  std::set<std::string> present;  // AWS names of the members the request sent (non-null)

  std::optional<std::string> function_name;
  std::optional<std::string> event_source_arn;
  std::optional<bool> enabled;
  std::optional<int> batch_size;
  std::optional<int> batching_window_s;
  std::optional<int> parallelization_factor;
  std::optional<int> maximum_retry_attempts;
  std::optional<int> maximum_record_age_s;
  std::optional<bool> bisect_on_error;
  std::optional<int> tumbling_window_s;
  std::optional<std::string> starting_position;
  std::optional<double> starting_position_ts;
  std::optional<std::vector<std::string>> filter_patterns;  // FilterCriteria sent: its patterns
  std::optional<std::vector<std::string>> response_types;
  bool scaling_config_sent = false;
  std::optional<int> maximum_concurrency;  // with scaling_config_sent: unset clears the cap
  std::optional<Destinations> destinations;
  std::optional<std::vector<std::string>> topics;
  std::optional<std::vector<std::string>> bootstrap_servers;  // SelfManagedEventSource, as sent
  std::optional<std::map<std::string, std::string>> tags;
  // Opaque members as sent, one JSON object (see Mapping::extras_json).
  std::string extras_json = "{}";
  // ConsumerGroupId was sent inside this Kafka config block (refused on Update).
  std::optional<std::string> consumer_group_block;
};

// Parses a Create (is_create) or Update body. Errors: kInvalidParameter for a body that is not
// a JSON object or a member of the wrong JSON type; kValidation for model-range violations.
Result<MappingRequest> parse_mapping_request(const std::string& body, bool is_create);

// Sets on `m` the members Create and Update share (batching, retries, filters, scaling,
// destinations), each one only if the request sent it, and merges in its opaque extras
// (merge_extras). An empty destination clears it.
void apply_common(Mapping& m, const MappingRequest& r);

// Merges `patch` (an extras object from a request) into `base`, member by member. A Kafka
// config block is merged one level deeper so that its stored ConsumerGroupId survives.
std::string merge_extras(const std::string& base, const std::string& patch);
// Sets ConsumerGroupId in the given Kafka config block unless the block already has one.
std::string with_default_consumer_group(const std::string& extras, const std::string& block, const std::string& id);
// The ConsumerGroupId stored in a Kafka config block, or empty.
std::string consumer_group_of(const std::string& extras, const std::string& block);
// True when the extras hold this member.
bool extras_has(const std::string& extras, const std::string& member);
// The service-level rules of a ProvisionedPollerConfig, if any, for this source: SQS needs at
// least two pollers each way and has no poller groups; MinimumPollers <= MaximumPollers, an
// absent member taking the source's default.
Status check_poller_bounds(const std::string& extras, SourceKind kind);

// The EventSourceMappingConfiguration document. in_list: List omits FilterCriteria when the
// mapping has a KMS key (control-plane.md §7).
std::string encode_mapping(const Mapping& m, bool in_list = false);
void encode_mapping_into(std::string& out, const Mapping& m, bool in_list);

// LastModified: epoch seconds with a millisecond fraction, as a JSON number.
std::string epoch_seconds(std::int64_t ms);

}  // namespace esm::api
