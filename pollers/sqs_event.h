#pragma once
// The SQS event Lambda sends a function (data-plane.md §1.1–§1.2) and what the function's
// answer means for the batch (§2.3). Pure functions, unit-tested on their own.

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include "core/invoke.h"
#include "pollers/filter.h"
#include "services/sqs/queue_engine.h"

namespace esm::pollers {

// Lambda's synchronous invocation payload limit; the serialized event never exceeds it.
inline constexpr std::size_t kMaxEventBytes = 6 * 1024 * 1024;

// One record of the event, serialized. with_window: the mapping has a batching window of at
// least 1 s, in which case AWS sends "md5OfMessageAttributes": null for a message without
// attributes (and omits the key otherwise).
std::string sqs_record_json(const sqs::Message& m, const std::string& receipt_handle,
                            const std::string& queue_arn, const std::string& region, bool with_window);

// What every record of one mapping's events has in common, escaped once: the poller makes one
// per receive instead of escaping the same ARN and region for each record.
struct SqsRecordFrame {
  bool with_window = false;
  std::string tail;  // from "eventSource" to the record's closing brace
};
SqsRecordFrame sqs_record_frame(const std::string& queue_arn, const std::string& region, bool with_window);
// The same record as above, written by hand (byte for byte what RapidJSON's Writer wrote).
std::string sqs_record_json(const sqs::Message& m, const std::string& receipt_handle, const SqsRecordFrame& frame);

// Whether a record (as sqs_record_json() wrote it) passes the mapping's filter. The pattern
// sees the record with `body` parsed as JSON when the body is valid JSON, else as the plain
// string (filtering.md §6); the function still gets the body as sent.
bool sqs_record_passes(const EventFilter& filter, const std::string& record_json, const std::string& body);

// {"Records":[...]} around already serialized records.
std::string sqs_event_json(const std::vector<std::string>& records);
// The exact size of sqs_event_json() for n records whose serialized sizes add up to
// record_bytes: `{"Records":[` (12) and `]}` (2) around them, a comma between two.
inline std::size_t sqs_event_size(std::size_t n, std::size_t record_bytes) {
  return 14 + record_bytes + (n > 0 ? n - 1 : 0);
}

// Which messages of a batch to delete after an invocation.
struct BatchVerdict {
  bool complete_failure = false;  // delete nothing
  std::set<std::string> failed;   // with success: message ids to keep (ReportBatchItemFailures)
};

// The table of §2.3: outcome and response body, with ReportBatchItemFailures on or off.
BatchVerdict judge_batch(const InvokeOutcome& outcome, bool report_item_failures,
                         const std::set<std::string>& batch_message_ids);

}  // namespace esm::pollers
