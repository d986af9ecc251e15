// Kafka record batches (services/kafka/record_batch.h) as a Produce request carries them: split
// and checked by parse_batches, then every batch's records decoded by decode_records, which
// decompresses gzip, snappy (raw and xerial), lz4 and zstd. To reach the decoders past the
// CRC, the harness also tries the input with each batch's CRC-32C recomputed (byte 0 bit 0).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "services/kafka/record_batch.h"

using namespace esm::kafka;

namespace {

// Rewrites the CRC of each batch whose Length fits, so that mutated batches pass the check.
void fix_crcs(std::string& b) {
  std::size_t pos = 0;
  while (b.size() - pos >= kBatchHeaderSize) {
    std::uint32_t length = 0;
    for (int i = 0; i < 4; ++i) length = (length << 8) | static_cast<std::uint8_t>(b[pos + 8 + i]);
    const std::size_t size = kBatchLogOverhead + length;
    if (length < kBatchHeaderSize - kBatchLogOverhead || size > b.size() - pos) return;
    const std::uint32_t crc = crc32c(b.data() + pos + 21, size - 21);
    for (int i = 0; i < 4; ++i) b[pos + 17 + i] = static_cast<char>(crc >> (8 * (3 - i)));
    pos += size;
  }
}

void check(std::string_view records) {
  auto batches = parse_batches(records);
  if (!batches) return;
  for (const BatchInfo& info : *batches) {
    if (info.position > records.size() || info.size > records.size() - info.position) std::abort();
    auto decoded = decode_records(records.substr(info.position, info.size));
    if (decoded && !info.control() && decoded->size() > static_cast<std::size_t>(info.record_count)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string records(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) fix_crcs(records);
  check(records);
  return 0;
}
