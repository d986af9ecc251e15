#pragma once
// InvocationLog: the most recent function invocations, newest last, so that a CI test can
// assert what a function received and answered (GET /_esmd/invocations, issue 3 §2).
//
// A bounded ring: the oldest entries are dropped once either the entry count or the byte
// budget is exceeded (an event can be 6 MB, so 10,000 entries alone would not bound memory).
// The newest entry is always kept, whatever its size.
//
// Thread safety: every method may be called from any thread (one mutex). Entries are
// immutable once appended and shared by pointer, so query() copies no payloads.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/invoke.h"

namespace esm {

struct InvocationRecord {
  std::uint64_t seq = 0;     // assigned by append(): 1, 2, ...; never reused, not even after clear()
  std::int64_t time_ms = 0;  // when the invocation started (epoch ms, from the Clock)
  std::string function_arn;  // as the caller gave it
  std::string mapping_uuid;  // empty for direct invocations
  std::shared_ptr<const std::string> event;  // the request payload; never null after append()
  InvokeOutcome outcome;
};

// "Success", "FunctionError" or "InvokeError".
std::string_view outcome_name(InvokeStatus s);

// True when `filter` (a function name, name:qualifier, or an ARN in any form Lambda accepts)
// denotes the function of `function_arn`. A filter without a qualifier matches every
// qualifier; one that is no function reference at all must equal the ARN exactly.
bool function_filter_matches(std::string_view filter, std::string_view function_arn);

struct InvocationQuery {
  std::string function;  // see function_filter_matches; empty matches all
  std::string mapping;   // a mapping UUID (case-insensitive); empty matches all
  std::size_t limit = 100;
  // With `since`: the OLDEST `limit` matching entries whose seq is greater, so that repeated
  // calls with since = the last seq seen walk forward without gaps. Without: the newest `limit`.
  std::optional<std::uint64_t> since;
};

class InvocationLog {
 public:
  static constexpr std::size_t kDefaultMaxEntries = 10'000;
  static constexpr std::size_t kDefaultMaxBytes = 256u * 1024 * 1024;

  explicit InvocationLog(std::size_t max_entries = kDefaultMaxEntries, std::size_t max_bytes = kDefaultMaxBytes);

  // Stores the record (its seq is overwritten) and returns the seq it was given.
  std::uint64_t append(InvocationRecord r);
  // Matching entries, in ascending seq order (newest last).
  std::vector<std::shared_ptr<const InvocationRecord>> query(const InvocationQuery& q) const;
  // Drops every entry; seq numbers keep increasing.
  void clear();

  std::size_t size() const;
  std::size_t bytes() const;
  // The seq of the newest entry ever appended (0 if none): a baseline for `since`.
  std::uint64_t last_seq() const;

 private:
  static std::size_t cost(const InvocationRecord& r);

  const std::size_t max_entries_;
  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  std::deque<std::shared_ptr<const InvocationRecord>> entries_;  // ascending seq
  std::size_t bytes_ = 0;
  std::uint64_t last_seq_ = 0;
};

}  // namespace esm
