#pragma once
// BatchBuilder: uncompressed record batches (magic 2) as a producer would send them, for the
// log engine's and the Kafka front-end's tests.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "services/kafka/record_batch.h"

namespace esm::testing {

struct BatchSpec {
  std::vector<std::pair<std::optional<std::string>, std::optional<std::string>>> records;  // key, value
  std::int64_t base_timestamp = 1'700'000'000'000;
  std::int64_t timestamp_step = 1;  // record i has base_timestamp + i * step
  std::int64_t producer_id = -1;
  std::int16_t producer_epoch = -1;
  std::int32_t base_sequence = -1;
};

inline void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

inline void put_varint(std::string& out, std::int64_t v) {
  auto u = (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
  while (u >= 0x80) {
    out.push_back(static_cast<char>((u & 0x7f) | 0x80));
    u >>= 7;
  }
  out.push_back(static_cast<char>(u));
}

inline std::string build_batch(const BatchSpec& spec) {
  std::string records;
  for (std::size_t i = 0; i < spec.records.size(); ++i) {
    std::string body;
    body.push_back(0);
    put_varint(body, static_cast<std::int64_t>(i) * spec.timestamp_step);
    put_varint(body, static_cast<std::int64_t>(i));
    for (const auto& field : {spec.records[i].first, spec.records[i].second}) {
      if (!field) {
        put_varint(body, -1);
      } else {
        put_varint(body, static_cast<std::int64_t>(field->size()));
        body += *field;
      }
    }
    put_varint(body, 0);  // headers
    put_varint(records, static_cast<std::int64_t>(body.size()));
    records += body;
  }
  const auto n = static_cast<std::int64_t>(spec.records.size());
  std::string b;
  put_be(b, 0, 8);
  put_be(b, 0, 4);
  put_be(b, 0xffffffff, 4);
  b.push_back(2);
  put_be(b, 0, 4);
  put_be(b, 0, 2);
  put_be(b, static_cast<std::uint64_t>(n - 1), 4);
  put_be(b, static_cast<std::uint64_t>(spec.base_timestamp), 8);
  put_be(b, static_cast<std::uint64_t>(spec.base_timestamp + (n - 1) * spec.timestamp_step), 8);
  put_be(b, static_cast<std::uint64_t>(spec.producer_id), 8);
  put_be(b, static_cast<std::uint16_t>(spec.producer_epoch), 2);
  put_be(b, static_cast<std::uint32_t>(spec.base_sequence), 4);
  put_be(b, static_cast<std::uint64_t>(n), 4);
  b += records;
  const std::size_t length = b.size() - 12;
  for (int i = 0; i < 4; ++i) b[8 + i] = static_cast<char>(length >> (8 * (3 - i)));
  const std::uint32_t crc = kafka::crc32c(b.data() + 21, b.size() - 21);
  for (int i = 0; i < 4; ++i) b[17 + i] = static_cast<char>(crc >> (8 * (3 - i)));
  return b;
}

// n records "v0".."v{n-1}" with keys "k0"...
inline BatchSpec values(int n, int first = 0) {
  BatchSpec s;
  for (int i = first; i < first + n; ++i) s.records.push_back({"k" + std::to_string(i), "v" + std::to_string(i)});
  return s;
}

}  // namespace esm::testing
