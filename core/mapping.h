#pragma once
// The event-source-mapping model shared by api/, storage/ and pollers/.
// Field names are esmd's own; the AWS spellings live only in api/mapping_codec.cc.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace esm {

enum class SourceKind { kSqs, kKinesis, kDynamoDb, kMsk, kSelfManagedKafka, kMq, kDocumentDb };

std::string_view to_string(SourceKind k);
std::optional<SourceKind> source_kind_from_string(std::string_view s);
inline bool is_stream(SourceKind k) { return k == SourceKind::kKinesis || k == SourceKind::kDynamoDb; }
inline bool is_kafka(SourceKind k) { return k == SourceKind::kMsk || k == SourceKind::kSelfManagedKafka; }

enum class MappingState { kCreating, kEnabling, kEnabled, kDisabling, kDisabled, kUpdating, kDeleting };

std::string_view to_string(MappingState s);
std::optional<MappingState> mapping_state_from_string(std::string_view s);
inline bool is_stable(MappingState s) {
  return s == MappingState::kEnabled || s == MappingState::kDisabled;
}

struct Destinations {
  std::optional<std::string> on_success;
  std::optional<std::string> on_failure;
  bool operator==(const Destinations&) const = default;
};

struct Mapping {
  std::string uuid;
  std::string region;
  std::string account;
  std::int64_t seq = 0;  // creation order, assigned by storage; drives List order and markers

  std::string function_arn;  // normalised, qualifier kept as given
  SourceKind kind = SourceKind::kSqs;
  std::string event_source_arn;  // empty for self-managed Kafka
  bool fifo = false;             // SQS queue name ends in .fifo

  MappingState state = MappingState::kCreating;
  // A transitional state settles to settle_to at settle_at_ms (epoch ms); see core/state_machine.h.
  std::optional<MappingState> settle_to;
  std::int64_t settle_at_ms = 0;
  std::int64_t last_modified_ms = 0;
  std::string state_reason;
  std::optional<std::string> last_processing_result;

  int batch_size = 10;
  std::optional<int> batching_window_s;  // unset: source default (0, or 500 ms for Kafka/MQ/DocDB)
  std::optional<int> parallelization_factor;
  std::optional<int> maximum_retry_attempts;
  std::optional<int> maximum_record_age_s;
  std::optional<bool> bisect_on_error;
  std::optional<int> tumbling_window_s;
  std::optional<std::string> starting_position;
  std::optional<double> starting_position_ts;  // epoch seconds
  std::vector<std::string> filter_patterns;     // each a JSON object as text; empty: no filters
  std::optional<bool> report_batch_item_failures;  // unset: FunctionResponseTypes omitted
  std::optional<int> maximum_concurrency;
  std::optional<Destinations> destinations;
  std::vector<std::string> topics;
  std::vector<std::string> bootstrap_servers;  // self-managed Kafka, sorted
  // Members esmd stores and returns without interpreting (Queues, SourceAccessConfigurations,
  // the Kafka config blocks, DocumentDB, KMS, metrics, logging, provisioned pollers), as one
  // JSON object owned by api/mapping_codec.cc.
  std::string extras_json = "{}";
};

std::string mapping_arn_of(const Mapping& m);

// The region events name as `awsRegion`: the source ARN's, or the mapping's own for a source
// without an ARN (self-managed Kafka). Lambda refuses a source in another region than the
// function's, but a row written before esmd did may still hold one.
std::string source_region_of(const Mapping& m);

}  // namespace esm
