#pragma once
// Sequence numbers, shard ids and shard-iterator tokens: the names a stream gives positions.
//
// A sequence number is a 56-digit decimal string derived from (stream id, shard index, record
// index) that increases with the index, so the numbers of one shard compare as equal-length
// strings. An iterator token is opaque to clients and names (stream, shard, index) and the time
// it was issued. Both carry a check that tells a token esmd made from a mangled or invented one.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace esm::kinesis {

// "shardId-" and 12 digits.
std::string shard_id_of(int index);
// The index of "shardId-NNNNNNNNNNNN"; nullopt for any other form.
std::optional<std::int64_t> parse_shard_id(std::string_view id);

// "49" followed by 54 digits; increases with record_index within a shard.
std::string sequence_number_of(std::int64_t stream_id, int shard, std::int64_t record_index);
struct SequenceParts {
  std::int64_t stream_id = 0;
  int shard = 0;
  std::int64_t record_index = 0;
};
std::optional<SequenceParts> parse_sequence_number(std::string_view seq);

struct IteratorToken {
  std::int64_t stream_id = 0;
  std::int64_t stream_created_ms = 0;
  std::int64_t shard = 0;
  std::int64_t index = 0;
  std::int64_t issued_ms = 0;
};
std::string encode_iterator(const IteratorToken& t);
// nullopt for a token esmd did not make.
std::optional<IteratorToken> decode_iterator(const std::string& token);

inline constexpr std::int64_t kMaxStreamId = 999999999999999;  // 15 digits
inline constexpr int kMaxShardIndex = 999999;                  // 6 digits

}  // namespace esm::kinesis
