#include "services/kinesis/sequence.h"

#include <cstdio>
#include <vector>

#include "core/codec.h"

namespace esm::kinesis {
namespace {

// FNV-1a: an integrity check on sequence numbers and iterators (not a secret: it only tells
// a token esmd made from a mangled or invented one).
std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (char ch : s) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

std::string shard_id_of(int index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "shardId-%012d", index);
  return buf;
}

std::optional<std::int64_t> parse_shard_id(std::string_view id) {
  if (id.size() != 20 || !id.starts_with("shardId-")) return std::nullopt;
  std::int64_t v = 0;
  for (char ch : id.substr(8)) {
    if (ch < '0' || ch > '9') return std::nullopt;
    v = v * 10 + (ch - '0');
  }
  return v;
}

// Layout: "49" | stream id (15 digits) | shard index (6) | record index (20) | check (13).
// The record index comes before the check digits, so within a shard the numbers compare as
// equal-length strings in record order.
std::string sequence_number_of(std::int64_t stream_id, int shard, std::int64_t record_index) {
  std::string out(56, '0');
  auto digits = [&](std::size_t pos, std::size_t width, std::uint64_t v) {
    for (std::size_t i = pos + width; i > pos; v /= 10) out[--i] = static_cast<char>('0' + v % 10);
  };
  out[0] = '4';
  out[1] = '9';
  digits(2, 15, static_cast<std::uint64_t>(stream_id));
  digits(17, 6, static_cast<std::uint64_t>(shard));
  digits(23, 20, static_cast<std::uint64_t>(record_index));
  digits(43, 13, fnv1a(std::string_view(out).substr(0, 43)) % 10000000000000ULL);
  return out;
}

std::optional<SequenceParts> parse_sequence_number(std::string_view seq) {
  if (seq.size() != 56 || !seq.starts_with("49")) return std::nullopt;
  for (char ch : seq)
    if (ch < '0' || ch > '9') return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len) {
    std::int64_t v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) v = v * 10 + (seq[i] - '0');
    return v;
  };
  const std::string_view head = seq.substr(0, 43);
  char check[16];
  std::snprintf(check, sizeof check, "%013llu", static_cast<unsigned long long>(fnv1a(head) % 10000000000000ULL));
  if (seq.substr(43) != check) return std::nullopt;
  if (seq[23] != '0') return std::nullopt;  // record indexes are int64: 19 digits
  // ... and at most INT64_MAX: compared as digit strings of one length, before num() would
  // overflow on a crafted number.
  if (seq.substr(24, 19) > std::string_view("9223372036854775807")) return std::nullopt;
  SequenceParts p;
  p.stream_id = num(2, 15);
  p.shard = static_cast<int>(num(17, 6));
  p.record_index = num(24, 19);
  return p;
}

std::string encode_iterator(const IteratorToken& t) {
  std::string body = "1:" + std::to_string(t.stream_id) + ":" + std::to_string(t.stream_created_ms) + ":" +
                     std::to_string(t.shard) + ":" + std::to_string(t.index) + ":" + std::to_string(t.issued_ms);
  body += ":" + std::to_string(fnv1a(body));
  return base64_encode(body);
}

std::optional<IteratorToken> decode_iterator(const std::string& token) {
  auto raw = base64_decode(token);
  if (!raw) return std::nullopt;
  std::vector<std::string> parts;
  std::string_view rest = *raw;
  while (true) {
    const auto colon = rest.find(':');
    parts.emplace_back(rest.substr(0, colon));
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  if (parts.size() != 7 || parts[0] != "1") return std::nullopt;
  const std::string body = raw->substr(0, raw->rfind(':'));
  if (parts[6] != std::to_string(fnv1a(body))) return std::nullopt;
  std::int64_t v[5];
  for (int i = 0; i < 5; ++i) {
    const std::string& p = parts[static_cast<std::size_t>(i) + 1];
    if (p.empty() || p.size() > 18 || p.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    v[i] = std::stoll(p);
  }
  return IteratorToken{v[0], v[1], v[2], v[3], v[4]};
}

}  // namespace esm::kinesis
