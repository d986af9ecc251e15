#include "services/kinesis/hash_key.h"

#include <algorithm>

#include "core/codec.h"

namespace esm::kinesis {
namespace {

// GCC's 128-bit integer: the hash-key space of Kinesis is [0, 2^128 - 1].
__extension__ typedef unsigned __int128 u128;

constexpr u128 kMaxHash = ~static_cast<u128>(0);

HashKey to_key(u128 v) { return {static_cast<std::uint64_t>(v >> 64), static_cast<std::uint64_t>(v)}; }

std::string to_decimal(u128 v) {
  if (v == 0) return "0";
  std::string out;
  while (v > 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace

std::optional<HashKey> parse_hash_key(std::string_view s) {
  if (s.empty() || s.size() > 39) return std::nullopt;
  u128 v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return std::nullopt;
    const auto d = static_cast<unsigned>(ch - '0');
    if (v > (kMaxHash - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return to_key(v);
}

HashKey hash_of_partition_key(std::string_view partition_key) {
  const std::string hex = md5_hex(partition_key);
  u128 v = 0;
  for (char ch : hex) v = (v << 4) | static_cast<unsigned>(ch <= '9' ? ch - '0' : ch - 'a' + 10);
  return to_key(v);
}

std::vector<HashRange> split_hash_space(int n) {
  const auto un = static_cast<u128>(n);
  const u128 width = kMaxHash / un + (kMaxHash % un == un - 1 ? 1 : 0);  // floor(2^128 / n)
  std::vector<HashRange> out;
  for (int i = 0; i < n; ++i) {
    const u128 start = width * static_cast<u128>(i);
    const u128 end = i + 1 == n ? kMaxHash : width * static_cast<u128>(i + 1) - 1;
    out.push_back(HashRange{to_key(start), to_decimal(start), to_decimal(end)});
  }
  return out;
}

}  // namespace esm::kinesis
