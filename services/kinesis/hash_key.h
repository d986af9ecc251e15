#pragma once
// The 128-bit hash-key space of a stream: partition keys hash to MD5 read as a big-endian
// number, and each shard owns a contiguous range of it.

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace esm::kinesis {

// A 128-bit hash key, ordered.
struct HashKey {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  auto operator<=>(const HashKey&) const = default;
};

struct HashRange {
  HashKey start;
  std::string start_decimal;  // inclusive
  std::string end_decimal;    // inclusive
};

// nullopt unless s is decimal digits whose value fits in 128 bits.
std::optional<HashKey> parse_hash_key(std::string_view s);
// MD5 of the partition key as a number.
HashKey hash_of_partition_key(std::string_view partition_key);
// The ranges AWS gives n new shards: each floor(2^128 / n) wide, the last one taking the remainder.
std::vector<HashRange> split_hash_space(int n);

}  // namespace esm::kinesis
