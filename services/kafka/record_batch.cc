#include "record_batch.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

namespace esm::kafka {
namespace {

// Field offsets in a batch (reference/kafka.md A.4.3).
constexpr std::size_t kLengthOffset = 8;
constexpr std::size_t kLeaderEpochOffset = 12;
constexpr std::size_t kMagicOffset = 16;
constexpr std::size_t kCrcOffset = 17;
constexpr std::size_t kAttributesOffset = 21;
constexpr std::size_t kLastOffsetDeltaOffset = 23;
constexpr std::size_t kBaseTimestampOffset = 27;
constexpr std::size_t kMaxTimestampOffset = 35;
constexpr std::size_t kProducerIdOffset = 43;
constexpr std::size_t kProducerEpochOffset = 51;
constexpr std::size_t kBaseSequenceOffset = 53;
constexpr std::size_t kRecordsCountOffset = 57;

// The smallest record: Length, Attributes, TimestampDelta, OffsetDelta, KeyLen, ValueLen and
// HeadersCount of one byte each. A RecordsCount above size / 7 cannot be honest, which stops
// a forged count from making us reserve memory for records that are not there.
constexpr std::size_t kMinRecordSize = 7;

// A compressed batch may declare anything; Kafka's default max.message.bytes is 1 MiB and a
// 64 MiB ceiling on what one batch inflates to leaves room for very compressible data while
// a decompression bomb gets kCorrupt instead of the process's memory.
constexpr std::size_t kMaxDecompressedSize = 64u << 20;
constexpr std::size_t kInflateChunk = 64u << 10;

// xerial snappy-java's stream header (Java producers, kafka-python): magic, version, compat.
constexpr std::array<unsigned char, 8> kXerialMagic = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr std::size_t kXerialHeaderSize = 16;

constexpr std::uint32_t kCastagnoli = 0x82F63B78u;  // reflected polynomial

struct CrcTables {
  std::uint32_t t[8][256];
};

constexpr CrcTables make_crc_tables() {
  CrcTables tables{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kCastagnoli : c >> 1;
    tables.t[0][i] = c;
  }
  for (std::uint32_t i = 0; i < 256; ++i) {
    for (int k = 1; k < 8; ++k) {
      const std::uint32_t prev = tables.t[k - 1][i];
      tables.t[k][i] = (prev >> 8) ^ tables.t[0][prev & 0xff];
    }
  }
  return tables;
}

constexpr CrcTables kCrc = make_crc_tables();

std::uint32_t load_le32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ESMD_CRC32C_HW 1
// SSE4.2's crc32 instruction computes CRC-32C itself, about 8 bytes a cycle; every x86-64
// since 2008 has it, the table path stays for the rest.
__attribute__((target("sse4.2"))) std::uint32_t crc32c_hw(const unsigned char* p, std::size_t n,
                                                          std::uint32_t crc) {
  std::uint64_t c = ~crc;
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    c = __builtin_ia32_crc32di(c, word);
  }
  auto c32 = static_cast<std::uint32_t>(c);
  for (; n > 0; ++p, --n) c32 = __builtin_ia32_crc32qi(c32, *p);
  return ~c32;
}
#endif

std::uint16_t be16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::uint16_t>(u[0] << 8 | u[1]);
}
std::uint32_t be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::uint32_t>(u[0]) << 24 | static_cast<std::uint32_t>(u[1]) << 16 |
         static_cast<std::uint32_t>(u[2]) << 8 | static_cast<std::uint32_t>(u[3]);
}
std::uint64_t be64(const char* p) { return std::uint64_t{be32(p)} << 32 | be32(p + 4); }

void put_be16(char* p, std::uint16_t v) {
  p[0] = static_cast<char>(v >> 8);
  p[1] = static_cast<char>(v);
}
void put_be32(char* p, std::uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<char>(v);
}
void put_be64(char* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<char>(v);
}

// A cursor over untrusted bytes: every read checks what is left and fails instead of reading
// past the end; lengths are checked against what is left before anything is taken.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  std::size_t remaining() const { return s_.size() - pos_; }

  bool int8(std::int8_t& out) {
    if (remaining() < 1) return false;
    out = static_cast<std::int8_t>(s_[pos_++]);
    return true;
  }
  // Zig-zag varints as Kafka's ByteUtils reads them: at most 5 bytes for an int32 and 10 for
  // an int64, so a run of continuation bytes is an error, not a loop.
  bool varint(std::int32_t& out) {
    std::uint64_t raw = 0;
    if (!unsigned_varint(5, raw)) return false;
    const auto u = static_cast<std::uint32_t>(raw);
    out = static_cast<std::int32_t>((u >> 1) ^ (0u - (u & 1)));
    return true;
  }
  bool varlong(std::int64_t& out) {
    std::uint64_t u = 0;
    if (!unsigned_varint(10, u)) return false;
    out = static_cast<std::int64_t>((u >> 1) ^ (0ull - (u & 1)));
    return true;
  }
  bool bytes(std::size_t n, std::string_view& out) {
    if (n > remaining()) return false;
    out = s_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  // A varint length then that many bytes; -1 is null, any other negative length is corrupt.
  bool nullable_bytes(std::optional<std::string_view>& out) {
    std::int32_t len = 0;
    if (!varint(len) || len < -1) return false;
    if (len == -1) {
      out.reset();
      return true;
    }
    std::string_view v;
    if (!bytes(static_cast<std::size_t>(len), v)) return false;
    out = v;
    return true;
  }

 private:
  bool unsigned_varint(int max_bytes, std::uint64_t& out) {
    std::uint64_t value = 0;
    for (int i = 0; i < max_bytes; ++i) {
      if (remaining() < 1) return false;
      const auto b = static_cast<unsigned char>(s_[pos_++]);
      value |= std::uint64_t{b & 0x7fu} << (7 * i);
      if ((b & 0x80) == 0) {
        out = value;
        return true;
      }
    }
    return false;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

struct RecordView {
  std::int64_t timestamp_delta = 0;
  std::int32_t offset_delta = 0;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
};

// One record; its headers go to `headers` when given (validation only walks them). The record
// must use exactly the bytes its Length declares, as Kafka's DefaultRecord.readFrom demands.
bool read_record(Reader& in, RecordView& rec, std::vector<Header>* headers) {
  std::int32_t length = 0;
  std::string_view body;
  if (!in.varint(length) || length < 0 || !in.bytes(static_cast<std::size_t>(length), body)) {
    return false;
  }
  Reader r(body);
  std::int8_t attributes = 0;
  std::int32_t header_count = 0;
  if (!r.int8(attributes) || !r.varlong(rec.timestamp_delta) || !r.varint(rec.offset_delta) ||
      !r.nullable_bytes(rec.key) || !r.nullable_bytes(rec.value) || !r.varint(header_count) ||
      header_count < 0 || static_cast<std::size_t>(header_count) > r.remaining() / 2) {
    return false;
  }
  for (std::int32_t i = 0; i < header_count; ++i) {
    std::optional<std::string_view> key;
    std::optional<std::string_view> value;
    // Kafka refuses a null header key ("Invalid negative header key size").
    if (!r.nullable_bytes(key) || !key || !r.nullable_bytes(value)) return false;
    if (headers != nullptr) {
      Header& h = headers->emplace_back();
      h.key.assign(*key);
      if (value) h.value.emplace(*value);
    }
  }
  return r.remaining() == 0;
}

// Walks `count` records that must fill `data` exactly, with offset deltas 0..count-1.
// `on_record(view, headers)` sees each; it gets the headers only if `want_headers`.
template <typename OnRecord>
Expected<void, BatchError> walk_records(std::string_view data, std::int32_t count,
                                        bool want_headers, OnRecord&& on_record) {
  if (static_cast<std::size_t>(count) > data.size() / kMinRecordSize) return BatchError::kCorrupt;
  Reader in(data);
  std::vector<Header> headers;
  for (std::int32_t i = 0; i < count; ++i) {
    RecordView rec;
    headers.clear();
    if (!read_record(in, rec, want_headers ? &headers : nullptr)) return BatchError::kCorrupt;
    if (rec.offset_delta != i) return BatchError::kInvalidRecord;
    on_record(rec, headers);
  }
  if (in.remaining() != 0) return BatchError::kCorrupt;
  return {};
}

// Checks one batch's header and CRC; `batch` is exactly the batch (BaseOffset to the end).
Expected<BatchInfo, BatchError> read_header(std::string_view batch) {
  const char* p = batch.data();
  if (batch.size() <= kMagicOffset) return BatchError::kCorrupt;
  if (p[kMagicOffset] != 2) return BatchError::kUnsupportedMagic;
  if (batch.size() < kBatchHeaderSize) return BatchError::kCorrupt;
  const std::uint32_t stored_crc = be32(p + kCrcOffset);
  if (crc32c(p + kAttributesOffset, batch.size() - kAttributesOffset) != stored_crc) {
    return BatchError::kCorrupt;
  }
  BatchInfo info;
  info.size = batch.size();
  info.base_offset = static_cast<std::int64_t>(be64(p));
  info.attributes = static_cast<std::int16_t>(be16(p + kAttributesOffset));
  info.last_offset_delta = static_cast<std::int32_t>(be32(p + kLastOffsetDeltaOffset));
  info.base_timestamp = static_cast<std::int64_t>(be64(p + kBaseTimestampOffset));
  info.max_timestamp = static_cast<std::int64_t>(be64(p + kMaxTimestampOffset));
  info.producer_id = static_cast<std::int64_t>(be64(p + kProducerIdOffset));
  info.producer_epoch = static_cast<std::int16_t>(be16(p + kProducerEpochOffset));
  info.base_sequence = static_cast<std::int32_t>(be32(p + kBaseSequenceOffset));
  info.record_count = static_cast<std::int32_t>(be32(p + kRecordsCountOffset));
  // Kafka's LogValidator: an offset range or a count that is not positive, or the two
  // disagreeing, is INVALID_RECORD. 64-bit so that LastOffsetDelta = INT32_MAX cannot overflow.
  const std::int64_t count_from_offsets = std::int64_t{info.last_offset_delta} + 1;
  if (count_from_offsets <= 0 || info.record_count <= 0 ||
      count_from_offsets != info.record_count) {
    return BatchError::kInvalidRecord;
  }
  // Codecs 5-7 do not exist; such a batch cannot be stored as if it could be read back.
  if ((info.attributes & 0x7) > static_cast<int>(Compression::kZstd)) return BatchError::kCorrupt;
  return info;
}

// Appends decompressed bytes to `out` in chunks, refusing to grow past kMaxDecompressedSize.
class Sink {
 public:
  explicit Sink(std::string& out) : out_(out) {}
  // Room for at most `want` more bytes; null when the ceiling is reached.
  char* reserve(std::size_t want, std::size_t& got) {
    if (used_ >= kMaxDecompressedSize) return nullptr;
    got = std::min(want, kMaxDecompressedSize - used_);
    out_.resize(used_ + got);
    return out_.data() + used_;
  }
  void commit(std::size_t n) { used_ += n; }
  void finish() { out_.resize(used_); }
  std::size_t used() const { return used_; }

 private:
  std::string& out_;
  std::size_t used_ = 0;
};

bool gunzip(std::string_view in, std::string& out) {
  z_stream zs{};
  // 15 + 32: the largest window, and zlib detects the gzip header itself.
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return false;
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  Sink sink(out);
  for (;;) {
    std::size_t got = 0;
    char* dst = sink.reserve(kInflateChunk, got);
    if (dst == nullptr) return false;
    zs.next_out = reinterpret_cast<Bytef*>(dst);
    zs.avail_out = static_cast<uInt>(got);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    sink.commit(got - zs.avail_out);
    if (rc == Z_STREAM_END) {
      // Java's GZIPInputStream reads concatenated members; so do we.
      if (zs.avail_in == 0) break;
      if (inflateReset(&zs) != Z_OK) return false;
      continue;
    }
    if (rc != Z_OK) return false;  // Z_BUF_ERROR here means the input ended mid-stream
    if (zs.avail_in == 0 && zs.avail_out != 0) return false;
  }
  sink.finish();
  return true;
}

bool snappy_block(std::string_view in, Sink& sink) {
  std::size_t len = 0;
  if (!snappy::GetUncompressedLength(in.data(), in.size(), &len)) return false;
  if (len == 0) return in.size() == 1;
  std::size_t got = 0;
  char* dst = sink.reserve(len, got);
  if (dst == nullptr || got != len) return false;
  if (!snappy::RawUncompress(in.data(), in.size(), dst)) return false;
  sink.commit(len);
  return true;
}

// Raw snappy (librdkafka, franz-go) or xerial's framing (Java, kafka-python): after the
// 16-byte header, blocks of [int32 big-endian length][raw snappy block].
bool unsnappy(std::string_view in, std::string& out) {
  Sink sink(out);
  if (in.size() < kXerialHeaderSize ||
      std::memcmp(in.data(), kXerialMagic.data(), kXerialMagic.size()) != 0) {
    if (!snappy_block(in, sink)) return false;
    sink.finish();
    return true;
  }
  in.remove_prefix(kXerialHeaderSize);
  while (!in.empty()) {
    if (in.size() < 4) return false;
    const std::uint32_t len = be32(in.data());
    in.remove_prefix(4);
    if (len > in.size()) return false;  // also refuses a negative int32
    if (!snappy_block(in.substr(0, len), sink)) return false;
    in.remove_prefix(len);
  }
  sink.finish();
  return true;
}

bool unlz4(std::string_view in, std::string& out) {
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) return false;
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> dctx(raw, LZ4F_freeDecompressionContext);
  Sink sink(out);
  const char* src = in.data();
  std::size_t left = in.size();
  std::size_t hint = 1;
  while (hint != 0) {
    std::size_t got = 0;
    char* dst = sink.reserve(kInflateChunk, got);
    if (dst == nullptr) return false;
    std::size_t src_used = left;
    hint = LZ4F_decompress(dctx.get(), dst, &got, src, &src_used, nullptr);
    if (LZ4F_isError(hint)) return false;
    sink.commit(got);
    src += src_used;
    left -= src_used;
    // No progress: the input ended inside the frame.
    if (got == 0 && src_used == 0) return false;
  }
  sink.finish();
  return left == 0;
}

// Streaming, because producers' frames need not carry the content size.
bool unzstd(std::string_view in, std::string& out) {
  std::unique_ptr<ZSTD_DCtx, std::size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!dctx) return false;
  Sink sink(out);
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  std::size_t rc = 1;
  while (src.pos < src.size || rc != 0) {
    std::size_t got = 0;
    char* dst = sink.reserve(kInflateChunk, got);
    if (dst == nullptr) return false;
    ZSTD_outBuffer o{dst, got, 0};
    const std::size_t before = src.pos;
    rc = ZSTD_decompressStream(dctx.get(), &o, &src);
    if (ZSTD_isError(rc)) return false;
    sink.commit(o.pos);
    // No progress with the output not full: the input ended inside a frame.
    if (o.pos < got && src.pos == before && rc != 0) return false;
  }
  sink.finish();
  return true;
}

Expected<std::string, BatchError> decompress(Compression codec, std::string_view in) {
  std::string out;
  bool ok = false;
  switch (codec) {
    case Compression::kGzip: ok = gunzip(in, out); break;
    case Compression::kSnappy: ok = unsnappy(in, out); break;
    case Compression::kLz4: ok = unlz4(in, out); break;
    case Compression::kZstd: ok = unzstd(in, out); break;
    default: return BatchError::kUnsupportedCodec;
  }
  if (!ok) return BatchError::kCorrupt;
  return out;
}

}  // namespace

namespace detail {
std::uint32_t crc32c_table(const void* data, std::size_t n, std::uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  const auto& t = kCrc.t;
  crc = ~crc;
  for (; n >= 8; p += 8, n -= 8) {
    const std::uint32_t lo = load_le32(p) ^ crc;
    const std::uint32_t hi = load_le32(p + 4);
    crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
          t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
  }
  for (; n > 0; ++p, --n) crc = t[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
  return ~crc;
}
}  // namespace detail

std::uint32_t crc32c(const void* data, std::size_t n, std::uint32_t crc) {
#ifdef ESMD_CRC32C_HW
  static const bool hw = __builtin_cpu_supports("sse4.2");
  if (hw) return crc32c_hw(static_cast<const unsigned char*>(data), n, crc);
#endif
  return detail::crc32c_table(data, n, crc);
}

Expected<std::vector<BatchInfo>, BatchError> parse_batches(std::string_view records) {
  std::vector<BatchInfo> batches;
  std::size_t pos = 0;
  while (pos < records.size()) {
    const std::size_t left = records.size() - pos;
    // A trailing partial batch is CORRUPT_MESSAGE in Kafka too: a Produce request carries
    // whole batches only.
    if (left < kBatchLogOverhead) return BatchError::kCorrupt;
    const auto length = static_cast<std::int32_t>(be32(records.data() + pos + kLengthOffset));
    if (length < 0 || static_cast<std::size_t>(length) > left - kBatchLogOverhead) {
      return BatchError::kCorrupt;
    }
    const std::string_view batch = records.substr(pos, kBatchLogOverhead + static_cast<std::size_t>(length));
    auto info = read_header(batch);
    if (!info) return info.error();
    info->position = pos;
    if (info->compression() == Compression::kNone) {
      auto walked = walk_records(batch.substr(kBatchHeaderSize), info->record_count, false,
                                 [](const RecordView&, const std::vector<Header>&) {});
      if (!walked) return walked.error();
    }
    batches.push_back(*info);
    pos += batch.size();
  }
  return batches;
}

void assign_offset(char* batch, std::int64_t base_offset) {
  put_be64(batch, static_cast<std::uint64_t>(base_offset));
  put_be32(batch + kLeaderEpochOffset, static_cast<std::uint32_t>(-1));
}

void set_log_append_time(char* batch, std::size_t size, std::int64_t append_ms) {
  const std::uint16_t attributes = be16(batch + kAttributesOffset) | 0x8;
  put_be16(batch + kAttributesOffset, attributes);
  put_be64(batch + kBaseTimestampOffset, static_cast<std::uint64_t>(append_ms));
  put_be64(batch + kMaxTimestampOffset, static_cast<std::uint64_t>(append_ms));
  put_be32(batch + kCrcOffset, crc32c(batch + kAttributesOffset, size - kAttributesOffset));
}

Expected<std::vector<Record>, BatchError> decode_records(std::string_view batch) {
  if (batch.size() < kBatchLogOverhead) return BatchError::kCorrupt;
  const auto length = static_cast<std::int32_t>(be32(batch.data() + kLengthOffset));
  if (length < 0 || static_cast<std::size_t>(length) != batch.size() - kBatchLogOverhead) {
    return BatchError::kCorrupt;
  }
  auto info = read_header(batch);
  if (!info) return info.error();
  std::string_view data = batch.substr(kBatchHeaderSize);
  std::string inflated;
  if (info->compression() != Compression::kNone) {
    auto out = decompress(info->compression(), data);
    if (!out) return out.error();
    inflated = std::move(*out);
    data = inflated;
  }
  std::vector<Record> records;
  records.reserve(std::min<std::size_t>(static_cast<std::size_t>(info->record_count),
                                        data.size() / kMinRecordSize));
  // Unsigned sums: a forged base offset or timestamp near the int64 limits wraps instead of
  // being undefined behaviour.
  const auto base_offset = static_cast<std::uint64_t>(info->base_offset);
  const auto base_ts = static_cast<std::uint64_t>(info->base_timestamp);
  const bool append_time = info->log_append_time();
  auto walked = walk_records(data, info->record_count, true,
                             [&](const RecordView& v, std::vector<Header>& headers) {
                               Record& r = records.emplace_back();
                               r.offset = static_cast<std::int64_t>(
                                   base_offset + static_cast<std::uint64_t>(v.offset_delta));
                               r.timestamp = append_time
                                                 ? info->max_timestamp
                                                 : static_cast<std::int64_t>(
                                                       base_ts + static_cast<std::uint64_t>(v.timestamp_delta));
                               if (v.key) r.key.emplace(*v.key);
                               if (v.value) r.value.emplace(*v.value);
                               r.headers = std::move(headers);
                             });
  if (!walked) return walked.error();
  return records;
}

}  // namespace esm::kafka
