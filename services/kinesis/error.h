#pragma once
// KinesisError: what a stream operation refused, as a kind and the facts the kind needs; no
// prose. api/errors_kinesis.cc turns each kind into Kinesis's error type and wording.

#include <cstdint>
#include <string>

#include "core/expected.h"
#include "core/status.h"

namespace esm::kinesis {

enum class ErrorKind {
  kStreamNotFound,          // stream, account
  kStreamExists,            // stream, account
  kStreamUnnamed,           // neither a name nor an ARN was given
  kArnNameMismatch,         // value (the ARN), stream (the name)
  kShardCountTooLow,        // requested
  kShardCountRequired,      // a provisioned stream needs a shard count
  kShardCountNotSupported,  // an on-demand stream takes none
  kShardLimitExceeded,      // account, region, current, limit, requested
  kRecordTooLarge,          // requested (bytes), limit
  kInvalidHashKey,          // value
  kThroughputExceeded,      // shard_id, stream, account
  kTooManyTags,             // stream, account, limit
  kRetentionTooShort,       // requested, limit
  kRetentionTooLong,        // requested, limit
  kRetentionNotLonger,      // stream, requested, current (an increase asked for less)
  kRetentionNotShorter,     // stream, requested, current (a decrease asked for more)
  kShardNotFound,           // shard_id, stream, account
  kSequenceNumberMissing,   // value (the iterator type)
  kSequenceNumberInvalid,   // value (the number), shard_id, stream, account
  kSequenceNumberOtherShard,// shard (the one it encodes), shard_id (the one asked for)
  kTimestampMissing,        // AT_TIMESTAMP without a time
  kTimestampInFuture,       // requested (ms), now_ms
  kInvalidIterator,         // a token esmd did not make
  kIteratorExpired,         // issued_ms, now_ms, limit (the lifetime in ms)
  kIteratorShardGone,       // shard, stream_id, account
  kStorage,                 // cause: an SQLite failure (a server error)
};

struct KinesisError {
  ErrorKind kind = ErrorKind::kStorage;
  std::string stream;
  std::string account;
  std::string region;
  std::string shard_id;
  std::string value;
  std::int64_t stream_id = 0;
  int shard = 0;
  std::int64_t requested = 0;
  std::int64_t current = 0;
  std::int64_t limit = 0;
  std::int64_t issued_ms = 0;
  std::int64_t now_ms = 0;
  Status cause;

  KinesisError() = default;
  explicit KinesisError(ErrorKind k) : kind(k) {}
  // A storage failure, or a failed commit (DbWorker::run_sync builds results from a Status).
  KinesisError(Status s) : kind(ErrorKind::kStorage), cause(std::move(s)) {}  // NOLINT
};

template <typename T>
using Expected = esm::Expected<T, KinesisError>;

}  // namespace esm::kinesis
