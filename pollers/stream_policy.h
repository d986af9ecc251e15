#pragma once
// What Lambda does with a failing stream batch (data-plane.md §3.2–§3.5), as pure functions of
// (outcome, attempt, config, clock). The Kinesis poller feeds a BatchRun the invocation
// outcomes and the time, and does what it answers; nothing here touches I/O, so every rule is
// unit-tested on a fake clock and against a naive reference model.
//
// A BatchRun owns one formed batch (records 0..n-1, in shard order) and a stack of ranges still
// to process. The top range is the one being worked on:
//
//   next(now)                       the top range's leading records older than
//                                   MaximumRecordAgeInSeconds or the stream's retention are
//                                   given up (RecordAgeExceeded);
//                                   then Invoke [begin,end), or Wait until its backoff ends,
//                                   or Done when the stack is empty
//   on_result(kSuccess)             pop the range
//   on_result(kPartial, i)          records before i are done; retry [i,end); counts an attempt
//   on_result(kFailure), bisect on  pop [b,e) and push [b,m), [m,e) (m = b + ceil(n/2)), first
//   and more than one record        half first, fresh counters; no attempt consumed
//   on_result(kFailure)             counts an attempt; retry after backoff
//   on_result(kInvokeError)         never reached the function: retry after backoff, no attempt
//                                   counted, never bisects
//   attempts > MaximumRetryAttempts the range is given up (RetryAttemptsExhausted)
//
// The esmd decisions for what AWS leaves open (§6): backoff 0.5 s ×2 per failed attempt, capped
// at 30 s, no jitter; bisect halves start at once; the attempt counter of a range is not reset
// when a partial response moves its start; approximateInvokeCount counts the invocations of the
// range being reported (at least 1).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/fwd.h>

#include "core/invoke.h"

namespace esm::pollers {

struct RetryConfig {
  int max_retry_attempts = -1;  // -1: until the records expire
  int max_record_age_s = -1;    // -1: no MaximumRecordAgeInSeconds
  bool bisect = false;
  // The stream's retention period: a record past it is trimmed from the stream, and Lambda
  // gives it up as RecordAgeExceeded (§3.2: "retried until its records expire"). -1: never.
  int retention_s = -1;
};

// The age past which a record is given up: the smaller of MaximumRecordAgeInSeconds and the
// retention period, or -1 when neither is set.
int age_limit_s(const RetryConfig& c);

// The delay before the next try of a range that has failed `failed_attempts` times (>= 1).
std::int64_t backoff_ms(int failed_attempts);

// How many of arrival_ms[begin, end) (in order) are, from the first, older than the age limit:
// a record expires when now - arrival > max_age_s seconds.
std::size_t count_expired(const std::vector<std::int64_t>& arrival_ms, std::size_t begin, std::size_t end,
                          std::int64_t now_ms, int max_age_s);

// What an invocation's outcome means for the batch (§3.5, §5.4).
enum class Verdict { kSuccess, kPartial, kFailure, kInvokeError };
struct Judgement {
  Verdict verdict = Verdict::kSuccess;
  std::size_t failed_from = 0;  // kPartial: index (in the batch) of the lowest reported record
};

// Judges an outcome for the records [begin, end) of a batch whose sequence numbers are `seqs`
// (equal-length decimal strings, increasing). With ReportBatchItemFailures off a success is a
// success whatever the body. With it on: an empty body, null, {}, a missing or null
// batchItemFailures, an empty list or any JSON that is not an object is a success; a list of
// sequence numbers of [begin,end) is a partial failure from the lowest; anything else (an item
// without a string itemIdentifier, an empty or unknown one, a list that is not a list, a body
// that is not JSON) is a complete failure.
Judgement judge_stream_batch(const InvokeOutcome& outcome, bool report_item_failures,
                             const std::vector<std::string_view>& seqs, std::size_t begin, std::size_t end);

// The rules both judges share (this one and judge_kafka_batch, pollers/kafka_event.h), with the
// source's own item identifier: `find` gives the batch index of one `itemIdentifier` value, or
// nullopt when it is malformed or names no record of the range judged (a complete failure).
// `end` is the range's end: a list that names nothing below it is a success.
using FindItem = std::function<std::optional<std::size_t>(const rapidjson::Value& item_identifier)>;
Judgement judge_item_failures(const InvokeOutcome& outcome, bool report_item_failures, std::size_t end,
                              const FindItem& find);

// ParallelizationFactor (§3.7): the lane of a partition key is its MD5 as a 128-bit big-endian
// integer, modulo the number of lanes.
int lane_of(const std::string& partition_key, int lanes);
// Tumbling windows (§3.8) are [k·T, (k+1)·T) in epoch time: the start of the one holding arrival_ms.
std::int64_t window_start_of(std::int64_t arrival_ms, int window_s);

enum class Condition { kRetryAttemptsExhausted, kRecordAgeExceeded };

// Records [begin, end) of the batch given up.
struct GiveUp {
  std::size_t begin = 0;
  std::size_t end = 0;
  Condition condition = Condition::kRetryAttemptsExhausted;
  int approximate_invoke_count = 1;
  bool operator==(const GiveUp&) const = default;
};

struct Step {
  enum class Kind { kInvoke, kWait, kDone };
  Kind kind = Kind::kDone;
  std::size_t begin = 0, end = 0;  // kInvoke
  std::int64_t wait_until_ms = 0;  // kWait
  std::vector<GiveUp> given_up;    // expired before this step, to report now
};

class BatchRun {
 public:
  // invoke_when_empty: a batch of no records that is still invoked (a tumbling window's final
  // call); it retries like any other and is never reported.
  BatchRun(std::vector<std::int64_t> arrival_ms, RetryConfig config, bool invoke_when_empty = false);

  Step next(std::int64_t now_ms);
  // The outcome of the kInvoke step next() last returned. Returns the range given up, if any.
  std::optional<GiveUp> on_result(const Judgement& j, std::int64_t now_ms);

  // Records [0, done()) are delivered or given up: the checkpoint may move past them.
  std::size_t done() const { return stack_.empty() ? size_ : stack_.back().begin; }
  std::size_t size() const { return size_; }
  // Invocations made so far of the range being worked on.
  int invocations() const { return stack_.empty() ? 0 : stack_.back().invokes; }

 private:
  struct Range {
    std::size_t begin = 0, end = 0;
    int invokes = 0;       // invocations that reached the function
    int attempts = 0;      // failed attempts counted against MaximumRetryAttempts
    int failed_tries = 0;  // every failed try, invoke errors included: drives the backoff
    std::int64_t not_before_ms = 0;
  };

  std::vector<std::int64_t> arrival_ms_;
  RetryConfig config_;
  std::size_t size_ = 0;
  std::vector<Range> stack_;  // back() is worked on; ranges below it come after it
};

}  // namespace esm::pollers
