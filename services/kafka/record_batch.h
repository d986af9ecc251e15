#pragma once
// Kafka record batches (magic 2), as producers send them and esmd stores them: esmd keeps each
// batch byte for byte (whatever its compression), writes only the broker's fields (BaseOffset,
// PartitionLeaderEpoch) and checks the CRC-32C, so gzip, snappy, lz4 and zstd round-trip.
// Decoding the records (decode_records) is for the few places that need them: ListOffsets by
// timestamp, and esmd's own poller.
//
// Layout (reference/kafka.md A.4.3):
//   BaseOffset int64 | Length int32 | PartitionLeaderEpoch int32 | Magic int8 | CRC uint32 |
//   Attributes int16 | LastOffsetDelta int32 | BaseTimestamp int64 | MaxTimestamp int64 |
//   ProducerId int64 | ProducerEpoch int16 | BaseSequence int32 | RecordsCount int32 | Records
// The CRC-32C covers Attributes to the end; Length counts the bytes after itself.
//
// Threading: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/expected.h"

namespace esm::kafka {

inline constexpr std::size_t kBatchHeaderSize = 61;  // up to and including RecordsCount
inline constexpr std::size_t kBatchLogOverhead = 12;  // BaseOffset + Length

enum class BatchError {
  kCorrupt,           // too short, a Length that does not fit, a bad CRC, or records that do not parse
  kUnsupportedMagic,  // magic other than 2
  kInvalidRecord,     // RecordsCount != LastOffsetDelta + 1, or offset deltas not 0..n-1
  kUnsupportedCodec,  // a compression codec esmd cannot decode (decode_records only)
};

enum class Compression : int { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

struct BatchInfo {
  std::size_t position = 0;  // where the batch starts in the buffer given to parse_batches
  std::size_t size = 0;      // the whole batch, BaseOffset included
  std::int64_t base_offset = 0;
  std::int16_t attributes = 0;
  std::int32_t last_offset_delta = 0;
  std::int64_t base_timestamp = 0;
  std::int64_t max_timestamp = 0;
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t base_sequence = -1;
  std::int32_t record_count = 0;

  Compression compression() const { return static_cast<Compression>(attributes & 0x7); }
  bool log_append_time() const { return (attributes & 0x8) != 0; }
  bool transactional() const { return (attributes & 0x10) != 0; }
  bool control() const { return (attributes & 0x20) != 0; }
};

// CRC-32C (Castagnoli), continuing from crc (0 to start).
std::uint32_t crc32c(const void* data, std::size_t n, std::uint32_t crc = 0);
namespace detail {
// The portable slicing-by-8 table path, which crc32c uses when the CPU lacks SSE4.2's crc32
// instruction; exposed so that tests check it on every machine.
std::uint32_t crc32c_table(const void* data, std::size_t n, std::uint32_t crc = 0);
}  // namespace detail

// Splits a Produce request's records field into its batches and checks each: magic 2, a
// Length that fits, the CRC, RecordsCount = LastOffsetDelta + 1, and for uncompressed batches
// that every record parses with offset deltas 0..n-1. An empty buffer has no batches.
Expected<std::vector<BatchInfo>, BatchError> parse_batches(std::string_view records);

// Writes BaseOffset and PartitionLeaderEpoch (-1: esmd has no leader epochs, reference T10) of
// the batch starting at `batch`; the CRC does not cover them and is kept.
void assign_offset(char* batch, std::int64_t base_offset);
// For a topic with message.timestamp.type=LogAppendTime: sets the timestamp-type attribute and
// MaxTimestamp (and BaseTimestamp) to append_ms, and recomputes the CRC.
void set_log_append_time(char* batch, std::size_t size, std::int64_t append_ms);

struct Header {
  std::string key;
  std::optional<std::string> value;
};

struct Record {
  std::int64_t offset = 0;     // base offset + offset delta
  std::int64_t timestamp = 0;  // base timestamp + delta (MaxTimestamp for LogAppendTime batches)
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<Header> headers;
};

// The records of one whole batch (as stored), decompressed when needed: gzip, snappy (raw
// and xerial-framed), lz4 (frame) and zstd.
Expected<std::vector<Record>, BatchError> decode_records(std::string_view batch);

}  // namespace esm::kafka
