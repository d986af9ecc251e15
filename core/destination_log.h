#pragma once
// DestinationLog: what the pollers delivered to destinations esmd does not host (SNS topics,
// S3 buckets), kept so that a test can read it (GET /_esmd/destinations?arn=...). An SQS
// destination is a real esmd queue instead; the log does not see those.
//
// Bounded per ARN (the oldest entries are dropped past kMaxPerArn). Thread safety: every method
// may be called from any thread (one mutex).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace esm {

struct DestinationEntry {
  std::uint64_t seq = 0;     // 1, 2, ... over the whole log, in delivery order
  std::int64_t time_ms = 0;
  std::string arn;           // the destination as configured
  std::string mapping_uuid;
  std::string key;           // S3: the object key; SNS: the notification's MessageId
  std::string body;          // S3: the object; SNS: the Message
};

class DestinationLog {
 public:
  static constexpr std::size_t kMaxPerArn = 10'000;

  void append(DestinationEntry e);
  // Entries for arn (every ARN when empty), oldest first.
  std::vector<DestinationEntry> list(const std::string& arn) const;

 private:
  mutable std::mutex mu_;
  std::uint64_t next_seq_ = 1;
  std::map<std::string, std::deque<DestinationEntry>> by_arn_;
};

}  // namespace esm
