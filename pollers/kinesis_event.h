#pragma once
// What Lambda sends for a Kinesis mapping (data-plane.md §1.3, §1.4) and what it reports when it
// gives a batch up (§3.6 a/b/c and the S3 object). Pure functions, unit-tested on their own.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pollers/stream_policy.h"
#include "services/kinesis/stream.h"

namespace esm::pollers {

// Where the records come from, as each record of the event names it.
struct KinesisSource {
  std::string stream_arn;
  std::string region;
  std::string shard_id;
  std::string role_arn;  // invokeIdentityArn: the function's execution role
};

// What every record of one shard's events has in common, escaped once: a poller keeps one per
// shard instead of escaping the same ARNs for each record.
struct KinesisRecordFrame {
  std::string event_id_prefix;  // "<shardId>:", escaped, without quotes
  std::string tail;             // the JSON after eventID's value, to the record's closing brace
};
KinesisRecordFrame kinesis_record_frame(const KinesisSource& src);

// One record of the event, serialized: data as base64, approximateArrivalTimestamp as epoch
// seconds with the milliseconds as fraction (a JSON number), eventID "<shardId>:<seq>".
std::string kinesis_record_json(const kinesis::StreamRecord& r, const KinesisRecordFrame& frame);
std::string kinesis_record_json(const kinesis::StreamRecord& r, const KinesisSource& src);

// {"Records":[...]} around already serialized records, and its exact size.
std::string kinesis_event_json(const std::vector<std::string>& records, std::size_t begin, std::size_t end);
inline std::size_t kinesis_event_size(std::size_t n, std::size_t record_bytes) {
  return 14 + record_bytes + (n > 0 ? n - 1 : 0);
}

// The tumbling-window members of §1.4 (TumblingWindowInSeconds > 0).
struct WindowFields {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  std::string state_json = "{}";  // the state of the last successful response of the window
  bool final_invoke = false;
  bool terminated_early = false;
};
std::string kinesis_window_event_json(const std::vector<std::string>& records, std::size_t begin, std::size_t end,
                                      const WindowFields& window, const KinesisSource& src);
// Upper bound of the window members' size, for the 6 MB cut.
std::size_t window_fields_size(const WindowFields& window, const KinesisSource& src);

// "2024-11-29T17:20:00.123Z" and "2024-11-29T17:20:00Z" (UTC).
std::string iso8601_ms(std::int64_t epoch_ms);
std::string iso8601_s(std::int64_t epoch_ms);

// The on-failure record (§3.6). response: the last invocation's answer; absent for
// RecordAgeExceeded, which has no responseContext key.
struct FailureResponse {
  int status_code = 200;
  std::string executed_version = "$LATEST";
  std::optional<std::string> function_error;  // null after partial or invalid responses
};
struct FailureRecord {
  std::string request_id;
  std::string function_arn;
  Condition condition = Condition::kRetryAttemptsExhausted;
  int approximate_invoke_count = 1;
  std::optional<FailureResponse> response;
  std::int64_t timestamp_ms = 0;
  std::string shard_id;
  std::string start_sequence_number;
  std::string end_sequence_number;
  std::int64_t first_arrival_ms = 0;
  std::int64_t last_arrival_ms = 0;
  std::size_t batch_size = 0;
  std::string stream_arn;
};
std::string failure_record_json(const FailureRecord& f);
// The S3 object: the same document plus "payload": {"Records": [the records given up]}.
std::string s3_failure_object_json(const FailureRecord& f, const std::vector<std::string>& records,
                                   std::size_t begin, std::size_t end);
// aws/lambda/<ESM-UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<random UUID>
std::string s3_failure_key(const std::string& mapping_uuid, const std::string& shard_id, std::int64_t now_ms,
                           const std::string& random_uuid);

// How deeply a window's `state` may nest. Lambda caps the state at 1 MB and says nothing of
// depth; esmd re-serializes the state with a recursive writer, so a deeper state is treated as
// an invalid window response (a failed invocation), like one without `state`.
inline constexpr std::size_t kMaxWindowStateDepth = 1000;

// A tumbling-window response must carry `state` (§3.8), an object nested at most
// kMaxWindowStateDepth levels: its JSON text, or nullopt (the invocation then counts as failed).
std::optional<std::string> window_state_of(const std::string& payload);

// The open window a checkpoint saved, {"start": <ms>, "state": {...}}; nullopt if the document
// is not one (it then starts afresh).
struct SavedWindow {
  std::int64_t start_ms = 0;
  std::string state_json;
};
std::optional<SavedWindow> saved_window_of(const std::string& doc);

}  // namespace esm::pollers
