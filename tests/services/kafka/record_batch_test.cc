#include "services/kafka/record_batch.h"

#include <catch2/catch.hpp>

#include <climits>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

namespace esm::kafka {
namespace {

// ---- A small encoder, the inverse of the code under test, for hand-made batches ----

void put_varlong(std::string& out, std::int64_t v) {
  auto u = (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
  while (u >= 0x80) {
    out.push_back(static_cast<char>((u & 0x7f) | 0x80));
    u >>= 7;
  }
  out.push_back(static_cast<char>(u));
}

void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

void write_be(std::string& s, std::size_t at, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) s[at + static_cast<std::size_t>(i)] = static_cast<char>(v);
}

std::uint64_t read_be(const std::string& s, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}

void put_nullable(std::string& out, const std::optional<std::string>& s) {
  if (!s) {
    put_varlong(out, -1);
    return;
  }
  put_varlong(out, static_cast<std::int64_t>(s->size()));
  out += *s;
}

struct TestRecord {
  std::int32_t offset_delta = 0;
  std::int64_t timestamp_delta = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<Header> headers;
};

std::string encode_record(const TestRecord& r) {
  std::string body;
  body.push_back(0);  // attributes
  put_varlong(body, r.timestamp_delta);
  put_varlong(body, r.offset_delta);
  put_nullable(body, r.key);
  put_nullable(body, r.value);
  put_varlong(body, static_cast<std::int64_t>(r.headers.size()));
  for (const Header& h : r.headers) {
    put_nullable(body, h.key);
    put_nullable(body, h.value);
  }
  std::string out;
  put_varlong(out, static_cast<std::int64_t>(body.size()));
  return out + body;
}

// Rewrites Length and the CRC after a test changed the batch.
void seal(std::string& batch) {
  write_be(batch, 8, batch.size() - 12, 4);
  write_be(batch, 17, crc32c(batch.data() + 21, batch.size() - 21), 4);
}

constexpr std::int64_t kBaseTs = 1700000000000;

std::string make_batch(const std::string& payload, std::int32_t count, std::int16_t attributes = 0,
                       std::int32_t last_offset_delta = INT32_MIN) {
  if (last_offset_delta == INT32_MIN) last_offset_delta = count - 1;
  std::string b;
  put_be(b, 0, 8);                    // BaseOffset
  put_be(b, 0, 4);                    // Length
  put_be(b, 0xffffffff, 4);           // PartitionLeaderEpoch
  b.push_back(2);                     // Magic
  put_be(b, 0, 4);                    // CRC
  put_be(b, static_cast<std::uint16_t>(attributes), 2);
  put_be(b, static_cast<std::uint32_t>(last_offset_delta), 4);
  put_be(b, kBaseTs, 8);              // BaseTimestamp
  put_be(b, kBaseTs + 5, 8);          // MaxTimestamp
  put_be(b, static_cast<std::uint64_t>(-1), 8);  // ProducerId
  put_be(b, 0xffff, 2);               // ProducerEpoch
  put_be(b, 0xffffffff, 4);           // BaseSequence
  put_be(b, static_cast<std::uint32_t>(count), 4);
  b += payload;
  seal(b);
  return b;
}

std::string encode_records(const std::vector<TestRecord>& records) {
  std::string out;
  for (const TestRecord& r : records) out += encode_record(r);
  return out;
}

std::vector<TestRecord> sample_records() {
  return {
      {0, 0, "key-1", std::string(40, 'a'), {{"h1", "x"}, {"h2", std::nullopt}}},
      {1, 1, "key-2", std::nullopt, {}},
      {2, 5, std::nullopt, "", {{"trace", "abc"}}},
  };
}

// Snappy with literals only: a valid raw block that libsnappy must decode like any other.
std::string snappy_literal(const std::string& data) {
  std::string out;
  std::uint64_t n = data.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  for (std::size_t pos = 0; pos < data.size(); pos += 60) {
    const std::size_t len = std::min<std::size_t>(60, data.size() - pos);
    out.push_back(static_cast<char>((len - 1) << 2));
    out += data.substr(pos, len);
  }
  return out;
}

std::string xerial(const std::vector<std::string>& blocks) {
  std::string out("\x82SNAPPY\0", 8);
  put_be(out, 1, 4);  // version
  put_be(out, 1, 4);  // compatible version
  for (const std::string& block : blocks) {
    const std::string raw = snappy_literal(block);
    put_be(out, raw.size(), 4);
    out += raw;
  }
  return out;
}

// A zstd frame without a content size, as a streaming compressor that never knew the total
// would write: raw blocks (type 0), then `rle_blocks` RLE blocks (type 1) of 128 KiB of zeros.
std::string zstd_frame(const std::vector<std::string>& raw_blocks, std::size_t rle_blocks = 0) {
  std::string out("\x28\xb5\x2f\xfd", 4);
  out.push_back(0x00);  // descriptor: no content size, not single-segment, no checksum
  out.push_back(0x38);  // window 2^(10+7) = 128 KiB
  const std::size_t total = raw_blocks.size() + rle_blocks;
  for (std::size_t i = 0; i < total; ++i) {
    const bool rle = i >= raw_blocks.size();
    const std::uint32_t size = rle ? 128 * 1024 : static_cast<std::uint32_t>(raw_blocks[i].size());
    const std::uint32_t header = size << 3 | (rle ? 1u : 0u) << 1 | (i + 1 == total ? 1u : 0u);
    out.push_back(static_cast<char>(header));
    out.push_back(static_cast<char>(header >> 8));
    out.push_back(static_cast<char>(header >> 16));
    if (rle) {
      out.push_back('\0');
    } else {
      out += raw_blocks[i];
    }
  }
  return out;
}

// ---- The fixtures: batches captured from real producers (fixtures/capture_batches.py) ----

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(ESMD_KAFKA_FIXTURES) + "/" + name + ".bin", std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const std::vector<std::string>& fixture_names() {
  static const std::vector<std::string> names = {
      "librdkafka_none", "librdkafka_gzip", "librdkafka_snappy", "librdkafka_lz4",
      "librdkafka_zstd", "kafka_python_gzip"};
  return names;
}

// What capture_batches.py produced: RECORDS there.
void check_fixture_records(const std::string& name, const std::vector<Record>& records) {
  std::string value1;
  std::string value3;
  for (int i = 0; i < 16; ++i) {
    value1 += "value-1 ";
    value3 += "value-3 ";
  }
  REQUIRE(records.size() == 3);
  CHECK(records[0].offset == 0);
  CHECK(records[1].offset == 1);
  CHECK(records[2].offset == 2);
  CHECK(records[0].timestamp == kBaseTs);
  CHECK(records[1].timestamp == kBaseTs + 1);
  CHECK(records[2].timestamp == kBaseTs + 5);
  CHECK(records[0].key == "key-1");
  CHECK(records[0].value == value1);
  REQUIRE(records[0].headers.size() == 2);
  CHECK(records[0].headers[0].key == "h1");
  CHECK(records[0].headers[0].value == "x");
  CHECK(records[0].headers[1].key == "h2");
  // kafka-python refuses null header values, so the capture sent an empty one.
  if (name.rfind("kafka_python", 0) == 0) {
    CHECK(records[0].headers[1].value == "");
  } else {
    CHECK_FALSE(records[0].headers[1].value.has_value());
  }
  CHECK(records[1].key == "key-2");
  CHECK_FALSE(records[1].value.has_value());
  CHECK(records[1].headers.empty());
  CHECK_FALSE(records[2].key.has_value());
  CHECK(records[2].value == value3);
  REQUIRE(records[2].headers.size() == 1);
  CHECK(records[2].headers[0].key == "trace");
  CHECK(records[2].headers[0].value == "abc");
}

BatchError parse_error(const std::string& records) {
  auto r = parse_batches(records);
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

}  // namespace

TEST_CASE("crc32c matches the published CRC-32C check values") {
  const std::string check = "123456789";
  CHECK(crc32c(check.data(), check.size()) == 0xE3069283u);
  CHECK(crc32c("", 0) == 0u);
  // RFC 3720 (iSCSI) appendix B.4.
  const std::string zeros(32, '\0');
  const std::string ones(32, '\xff');
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  CHECK(crc32c(zeros.data(), zeros.size()) == 0x8A9136AAu);
  CHECK(crc32c(ones.data(), ones.size()) == 0x62A8AB43u);
  CHECK(crc32c(ascending.data(), ascending.size()) == 0x46DD794Eu);
  CHECK(detail::crc32c_table(check.data(), check.size()) == 0xE3069283u);
  CHECK(detail::crc32c_table(ascending.data(), ascending.size()) == 0x46DD794Eu);
}

TEST_CASE("crc32c continues across pieces and agrees with the table path at every length and alignment") {
  std::mt19937 rng(7);
  std::string data(4096 + 16, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t n : {0, 1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4096}) {
      const char* p = data.data() + offset;
      const std::uint32_t whole = crc32c(p, n);
      CHECK(detail::crc32c_table(p, n) == whole);
      const std::size_t cut = n / 3;
      CHECK(crc32c(p + cut, n - cut, crc32c(p, cut)) == whole);
      CHECK(detail::crc32c_table(p + cut, n - cut, detail::crc32c_table(p, cut)) == whole);
    }
  }
}

TEST_CASE("parse_batches finds no batch in an empty records field") {
  auto r = parse_batches("");
  REQUIRE(r.has_value());
  CHECK(r->empty());
}

TEST_CASE("parse_batches accepts the batches real producers send with every codec") {
  const std::vector<std::pair<std::string, Compression>> expected = {
      {"librdkafka_none", Compression::kNone},   {"librdkafka_gzip", Compression::kGzip},
      {"librdkafka_snappy", Compression::kSnappy}, {"librdkafka_lz4", Compression::kLz4},
      {"librdkafka_zstd", Compression::kZstd},   {"kafka_python_gzip", Compression::kGzip}};
  for (const auto& [name, codec] : expected) {
    INFO(name);
    const std::string bytes = fixture(name);
    auto r = parse_batches(bytes);
    REQUIRE(r.has_value());
    REQUIRE(r->size() == 1);
    const BatchInfo& b = r->front();
    CHECK(b.position == 0);
    CHECK(b.size == bytes.size());
    CHECK(b.compression() == codec);
    CHECK(b.record_count == 3);
    CHECK(b.last_offset_delta == 2);
    CHECK(b.base_timestamp == kBaseTs);
    CHECK(b.max_timestamp == kBaseTs + 5);
    CHECK(b.producer_id == -1);
    CHECK_FALSE(b.log_append_time());
    CHECK_FALSE(b.transactional());
    CHECK_FALSE(b.control());
  }
}

TEST_CASE("decode_records returns exactly what the real producers sent, for every codec") {
  for (const std::string& name : fixture_names()) {
    INFO(name);
    auto r = decode_records(fixture(name));
    REQUIRE(r.has_value());
    check_fixture_records(name, *r);
  }
}

TEST_CASE("parse_batches splits concatenated batches and gives each its position") {
  const std::string a = fixture("librdkafka_zstd");
  const std::string b = fixture("librdkafka_none");
  auto r = parse_batches(a + b);
  REQUIRE(r.has_value());
  REQUIRE(r->size() == 2);
  CHECK((*r)[0].position == 0);
  CHECK((*r)[0].size == a.size());
  CHECK((*r)[1].position == a.size());
  CHECK((*r)[1].size == b.size());
}

TEST_CASE("any flipped byte the CRC covers makes a real batch corrupt") {
  for (const std::string& name : fixture_names()) {
    INFO(name);
    const std::string good = fixture(name);
    for (std::size_t i = 17; i < good.size(); ++i) {
      INFO("byte " << i);
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ 0x01);
      CHECK(parse_error(bad) == BatchError::kCorrupt);
      auto d = decode_records(bad);
      REQUIRE_FALSE(d.has_value());
      CHECK(d.error() == BatchError::kCorrupt);
    }
  }
}

TEST_CASE("the broker's fields are outside the CRC and a wrong magic is unsupported") {
  std::string b = fixture("librdkafka_gzip");
  b[3] = 0x55;   // BaseOffset
  b[13] = 0x07;  // PartitionLeaderEpoch
  CHECK(parse_batches(b).has_value());
  b[16] = 1;
  CHECK(parse_error(b) == BatchError::kUnsupportedMagic);
}

TEST_CASE("a truncated batch or a trailing partial batch is corrupt") {
  for (const std::string& name : fixture_names()) {
    INFO(name);
    const std::string good = fixture(name);
    for (std::size_t n = 1; n < good.size(); ++n) {
      INFO("length " << n);
      CHECK(parse_error(good.substr(0, n)) == BatchError::kCorrupt);
      CHECK(parse_error(good + good.substr(0, n)) == BatchError::kCorrupt);
      CHECK_FALSE(decode_records(good.substr(0, n)).has_value());
    }
  }
}

TEST_CASE("a Length that is negative, INT_MIN or beyond the buffer is corrupt") {
  const std::string good = fixture("librdkafka_none");
  for (std::uint32_t length : {0u, 1u, 48u, 0x80000000u, 0xffffffffu, 0x7fffffffu,
                               static_cast<std::uint32_t>(good.size() - 11)}) {
    INFO("length " << length);
    std::string bad = good;
    write_be(bad, 8, length, 4);
    CHECK(parse_error(bad) == BatchError::kCorrupt);
    CHECK_FALSE(decode_records(bad).has_value());
  }
}

TEST_CASE("assign_offset writes the base offset and epoch -1 and keeps the CRC valid") {
  for (const std::string& name : fixture_names()) {
    INFO(name);
    std::string b = fixture(name);
    write_be(b, 12, 5, 4);
    assign_offset(b.data(), 1000);
    CHECK(read_be(b, 0, 8) == 1000);
    CHECK(read_be(b, 12, 4) == 0xffffffffu);
    auto parsed = parse_batches(b);
    REQUIRE(parsed.has_value());
    CHECK(parsed->front().base_offset == 1000);
    auto records = decode_records(b);
    REQUIRE(records.has_value());
    REQUIRE(records->size() == 3);
    CHECK((*records)[0].offset == 1000);
    CHECK((*records)[2].offset == 1002);
  }
}

TEST_CASE("set_log_append_time stamps every record with the append time and recomputes the CRC") {
  for (const std::string& name : fixture_names()) {
    INFO(name);
    std::string b = fixture(name);
    const std::uint16_t codec_bits = static_cast<std::uint16_t>(read_be(b, 21, 2));
    set_log_append_time(b.data(), b.size(), 1800000000000);
    auto parsed = parse_batches(b);
    REQUIRE(parsed.has_value());
    const BatchInfo& info = parsed->front();
    CHECK(info.log_append_time());
    CHECK(static_cast<std::uint16_t>(info.attributes) == (codec_bits | 0x8));
    CHECK(info.max_timestamp == 1800000000000);
    CHECK(info.base_timestamp == 1800000000000);
    auto records = decode_records(b);
    REQUIRE(records.has_value());
    for (const Record& r : *records) CHECK(r.timestamp == 1800000000000);
  }
}

TEST_CASE("decode_records reads hand-made records: null key and value, empty value, headers") {
  const std::string batch = make_batch(encode_records(sample_records()), 3);
  REQUIRE(parse_batches(batch).has_value());
  auto r = decode_records(batch);
  REQUIRE(r.has_value());
  REQUIRE(r->size() == 3);
  CHECK((*r)[0].key == "key-1");
  CHECK((*r)[0].value == std::string(40, 'a'));
  REQUIRE((*r)[0].headers.size() == 2);
  CHECK_FALSE((*r)[0].headers[1].value.has_value());
  CHECK_FALSE((*r)[1].value.has_value());
  CHECK_FALSE((*r)[2].key.has_value());
  CHECK((*r)[2].value == "");
  CHECK((*r)[2].timestamp == kBaseTs + 5);
}

TEST_CASE("decode_records reads snappy in xerial's framing, across several blocks, and raw") {
  const std::string payload = encode_records(sample_records());
  const std::string framed = xerial({payload.substr(0, 10), payload.substr(10, 50), payload.substr(60)});
  auto r = decode_records(make_batch(framed, 3, static_cast<std::int16_t>(Compression::kSnappy)));
  REQUIRE(r.has_value());
  REQUIRE(r->size() == 3);
  CHECK((*r)[0].key == "key-1");
  CHECK((*r)[2].value == "");

  auto raw = decode_records(make_batch(snappy_literal(payload), 3, static_cast<std::int16_t>(Compression::kSnappy)));
  REQUIRE(raw.has_value());
  CHECK(raw->size() == 3);
}

TEST_CASE("a xerial block length that is negative or runs past the data is corrupt") {
  const std::string payload = encode_records(sample_records());
  std::string framed = xerial({payload});
  for (std::uint32_t len : {0x80000000u, 0xffffffffu, static_cast<std::uint32_t>(framed.size())}) {
    write_be(framed, 16, len, 4);
    auto r = decode_records(make_batch(framed, 3, static_cast<std::int16_t>(Compression::kSnappy)));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == BatchError::kCorrupt);
  }
}

TEST_CASE("decode_records streams a zstd frame that does not state its content size") {
  const std::string payload = encode_records(sample_records());
  const std::string frame = zstd_frame({payload.substr(0, 20), payload.substr(20)});
  auto r = decode_records(make_batch(frame, 3, static_cast<std::int16_t>(Compression::kZstd)));
  REQUIRE(r.has_value());
  CHECK(r->size() == 3);
}

TEST_CASE("a batch that inflates beyond 64 MiB is corrupt, not a memory exhaustion") {
  // 600 RLE blocks of 128 KiB: 2.4 KB of zstd that inflate to 75 MiB.
  auto r = decode_records(make_batch(zstd_frame({}, 600), 1, static_cast<std::int16_t>(Compression::kZstd)));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == BatchError::kCorrupt);

  // A raw snappy block declaring 100 MiB.
  std::string snappy = "\x80\x80\x80\x32";
  snappy += std::string(16, '\0');
  auto s = decode_records(make_batch(snappy, 1, static_cast<std::int16_t>(Compression::kSnappy)));
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error() == BatchError::kCorrupt);
}

TEST_CASE("RecordsCount must equal LastOffsetDelta + 1 and both be positive") {
  const std::string payload = encode_records(sample_records());
  CHECK(parse_error(make_batch(payload, 3, 0, 1)) == BatchError::kInvalidRecord);
  CHECK(parse_error(make_batch(payload, 3, 0, 3)) == BatchError::kInvalidRecord);
  CHECK(parse_error(make_batch("", 0, 0, -1)) == BatchError::kInvalidRecord);
  CHECK(parse_error(make_batch(payload, INT32_MIN, 0, INT32_MAX)) == BatchError::kInvalidRecord);
  CHECK(parse_error(make_batch(payload, -1, 0, -2)) == BatchError::kInvalidRecord);
}

TEST_CASE("offset deltas out of order are an invalid record") {
  auto records = sample_records();
  std::swap(records[1].offset_delta, records[2].offset_delta);
  const std::string batch = make_batch(encode_records(records), 3);
  CHECK(parse_error(batch) == BatchError::kInvalidRecord);
  auto d = decode_records(batch);
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error() == BatchError::kInvalidRecord);
}

TEST_CASE("uncompressed records must fill the batch exactly: missing or extra bytes are corrupt") {
  const auto records = sample_records();
  const std::string two = encode_records({records[0], records[1]});
  // Claims three records (and LastOffsetDelta 2) but carries two.
  CHECK(parse_error(make_batch(two, 3)) == BatchError::kCorrupt);
  CHECK(parse_error(make_batch(encode_records(records) + "x", 3)) == BatchError::kCorrupt);
  // A huge count with little data is refused before anything is reserved.
  CHECK(parse_error(make_batch(two, INT32_MAX)) == BatchError::kCorrupt);
}

TEST_CASE("malformed record fields are corrupt: bad lengths, overlong varints, null header keys") {
  auto corrupt_with = [](const std::string& record_bytes) {
    return parse_error(make_batch(record_bytes, 1));
  };
  TestRecord r{0, 0, "k", "v", {}};
  const std::string good = encode_record(r);
  REQUIRE(parse_batches(make_batch(good, 1)).has_value());

  std::string body;
  body.push_back(0);
  body += "\x00\x00";       // timestamp delta 0, offset delta 0
  std::string key_minus_2;  // key length -2
  put_varlong(key_minus_2, -2);
  auto with_length = [](const std::string& b) {
    std::string out;
    put_varlong(out, static_cast<std::int64_t>(b.size()));
    return out + b;
  };
  CHECK(corrupt_with(with_length(body + key_minus_2 + "\x01\x00")) == BatchError::kCorrupt);
  std::string key_int_min;
  put_varlong(key_int_min, INT32_MIN);
  CHECK(corrupt_with(with_length(body + key_int_min + "\x01\x00")) == BatchError::kCorrupt);
  std::string key_past_end;
  put_varlong(key_past_end, 100);
  CHECK(corrupt_with(with_length(body + key_past_end + "\x01\x00")) == BatchError::kCorrupt);
  // A six-byte int32 varint.
  CHECK(corrupt_with(with_length(body + "\x81\x80\x80\x80\x80\x00" + "\x01\x00")) == BatchError::kCorrupt);
  // An eleven-byte varlong timestamp delta.
  std::string long_ts;
  long_ts.push_back(0);
  long_ts += std::string(10, '\x80') + '\x00';
  CHECK(corrupt_with(with_length(long_ts + "\x00\x01\x01\x00")) == BatchError::kCorrupt);
  // A negative record length.
  std::string negative;
  put_varlong(negative, -1);
  CHECK(corrupt_with(negative + good) == BatchError::kCorrupt);
  // A record length shorter than the record.
  std::string short_length = good;
  short_length[0] = static_cast<char>(short_length[0] - 2);
  CHECK(corrupt_with(short_length) == BatchError::kCorrupt);
  // A null header key.
  std::string null_header_key = body + "\x02k\x02v\x02";
  put_varlong(null_header_key, -1);
  null_header_key += "\x00";
  CHECK(corrupt_with(with_length(null_header_key)) == BatchError::kCorrupt);
  // A header count far beyond the bytes.
  std::string many_headers = body + "\x02k\x02v";
  put_varlong(many_headers, INT32_MAX);
  CHECK(corrupt_with(with_length(many_headers)) == BatchError::kCorrupt);
}

TEST_CASE("an unknown compression codec is corrupt in parse_batches") {
  CHECK(parse_error(make_batch("xyz", 1, 5)) == BatchError::kCorrupt);
  CHECK(parse_error(make_batch("xyz", 1, 7)) == BatchError::kCorrupt);
}

TEST_CASE("garbage compressed data is corrupt for every codec") {
  for (int codec = 1; codec <= 4; ++codec) {
    INFO("codec " << codec);
    auto r = decode_records(make_batch("this is not compressed data at all", 1, static_cast<std::int16_t>(codec)));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == BatchError::kCorrupt);
    auto empty = decode_records(make_batch("", 1, static_cast<std::int16_t>(codec)));
    REQUIRE_FALSE(empty.has_value());
  }
}

// Mutations of valid batches, half of them with the CRC repaired so that the record walk and
// the decompressors see the damage too. The property: no crash, no read past the buffer (run
// under ASan), and for uncompressed batches parse_batches and decode_records agree.
TEST_CASE("twenty thousand mutated batches never crash the parser or the decoders") {
  std::vector<std::string> seeds;
  for (const std::string& name : fixture_names()) seeds.push_back(fixture(name));
  seeds.push_back(make_batch(encode_records(sample_records()), 3));
  const std::string payload = encode_records(sample_records());
  seeds.push_back(make_batch(xerial({payload.substr(0, 30), payload.substr(30)}), 3,
                             static_cast<std::int16_t>(Compression::kSnappy)));
  seeds.push_back(make_batch(zstd_frame({payload}), 3, static_cast<std::int16_t>(Compression::kZstd)));

  std::mt19937 rng(20261202);
  auto pick = [&rng](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  int accepted = 0;
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::string b = seeds[pick(seeds.size())];
    const std::size_t mutations = 1 + pick(4);
    for (std::size_t m = 0; m < mutations && !b.empty(); ++m) {
      // Mostly past the header, where the records and compressed data are.
      const std::size_t at = b.size() > 61 && pick(4) != 0 ? 61 + pick(b.size() - 61) : pick(b.size());
      switch (pick(6)) {
        case 0: b[at] = static_cast<char>(b[at] ^ (1 << pick(8))); break;
        case 1: b[at] = static_cast<char>(rng()); break;
        case 2: b.resize(at); break;
        case 3: b.insert(at, std::string(1 + pick(8), static_cast<char>(rng()))); break;
        case 4:
          if (at + 4 <= b.size()) {
            const std::uint32_t nasty[] = {0x80000000u, 0x7fffffffu, 0xffffffffu, 0u};
            write_be(b, at, nasty[pick(4)], 4);
          }
          break;
        default: b.erase(at, 1 + pick(8)); break;
      }
    }
    if (b.size() >= kBatchHeaderSize && pick(2) == 0) seal(b);
    auto parsed = parse_batches(b);
    auto decoded = decode_records(b);
    if (parsed.has_value() && parsed->size() == 1 && parsed->front().size == b.size() &&
        parsed->front().compression() == Compression::kNone) {
      CHECK(decoded.has_value());
    }
    if (decoded.has_value()) ++accepted;
  }
  // Some mutations (in keys and values, under a repaired CRC) leave valid batches.
  CHECK(accepted > 0);
}

}  // namespace esm::kafka
