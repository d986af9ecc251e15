#include "core/codec.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace esm {
namespace {

// MD5 per RFC 1321; small and dependency-free. Every SendMessage and PutRecord takes at least
// one, so whole blocks are hashed straight from the input and the rounds run as four loops
// without a branch each (the byte-at-a-time version cost ~2.5k instructions a block).
class Md5 {
 public:
  void update(const unsigned char* p, std::size_t n) {
    bits_ += static_cast<std::uint64_t>(n) * 8;
    if (buf_len_ > 0) {
      const std::size_t take = std::min(n, 64 - buf_len_);
      std::memcpy(buf_.data() + buf_len_, p, take);
      buf_len_ += take;
      p += take;
      n -= take;
      if (buf_len_ < 64) return;
      block(buf_.data());
      buf_len_ = 0;
    }
    for (; n >= 64; p += 64, n -= 64) block(p);
    std::memcpy(buf_.data(), p, n);
    buf_len_ = n;
  }

  std::array<unsigned char, 16> finish() {
    const std::uint64_t bits = bits_;
    // 0x80, zeros up to 56 bytes into a block, then the length in bits, little-endian.
    buf_[buf_len_++] = 0x80;
    if (buf_len_ > 56) {
      std::memset(buf_.data() + buf_len_, 0, 64 - buf_len_);
      block(buf_.data());
      buf_len_ = 0;
    }
    std::memset(buf_.data() + buf_len_, 0, 56 - buf_len_);
    for (int i = 0; i < 8; ++i) buf_[static_cast<std::size_t>(56 + i)] = static_cast<unsigned char>(bits >> (8 * i));
    block(buf_.data());
    std::array<unsigned char, 16> out{};
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) out[static_cast<std::size_t>(i * 4 + j)] = static_cast<unsigned char>(h_[i] >> (8 * j));
    return out;
  }

 private:
  static std::uint32_t rotl(std::uint32_t x, int c) { return (x << c) | (x >> (32 - c)); }

  void block(const unsigned char* p) {
    static constexpr std::uint32_t k[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
        0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
        0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
        0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
        0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
        0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
        0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
    static constexpr int r[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                  5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
    std::uint32_t w[16];
    for (int i = 0; i < 16; ++i)
      w[i] = static_cast<std::uint32_t>(p[i * 4]) | (static_cast<std::uint32_t>(p[i * 4 + 1]) << 8) |
             (static_cast<std::uint32_t>(p[i * 4 + 2]) << 16) | (static_cast<std::uint32_t>(p[i * 4 + 3]) << 24);
    std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3];
    auto step = [&](std::uint32_t f, int i, int g) {
      const std::uint32_t tmp = d;
      d = c;
      c = b;
      b = b + rotl(a + f + k[i] + w[g], r[i]);
      a = tmp;
    };
    for (int i = 0; i < 16; ++i) step((b & c) | (~b & d), i, i);
    for (int i = 16; i < 32; ++i) step((d & b) | (~d & c), i, (5 * i + 1) & 15);
    for (int i = 32; i < 48; ++i) step(b ^ c ^ d, i, (3 * i + 5) & 15);
    for (int i = 48; i < 64; ++i) step(c ^ (b | ~d), i, (7 * i) & 15);
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
  }

  std::uint32_t h_[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  std::array<unsigned char, 64> buf_{};
  std::size_t buf_len_ = 0;
  std::uint64_t bits_ = 0;
};

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 15]);
  }
  return out;
}

std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::string md5_hex(std::string_view data) {
  Md5 m;
  m.update(reinterpret_cast<const unsigned char*>(data.data()), data.size());
  const auto d = m.finish();
  return to_hex(d.data(), d.size());
}

std::string sha256_hex(std::string_view data) {
  static constexpr std::uint32_t k[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
      0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
      0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
      0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
      0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
      0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
      0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
  std::uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::string msg(data);
  const std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) msg.push_back('\0');
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<char>((bits >> (8 * i)) & 255));
  for (std::size_t off = 0; off < msg.size(); off += 64) {
    std::uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const unsigned char*>(msg.data() + off + static_cast<std::size_t>(i) * 4);
      w[i] = (static_cast<std::uint32_t>(p[0]) << 24) | (static_cast<std::uint32_t>(p[1]) << 16) |
             (static_cast<std::uint32_t>(p[2]) << 8) | p[3];
    }
    for (int i = 16; i < 64; ++i) {
      const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      const std::uint32_t s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      const std::uint32_t ch = (e & f) ^ (~e & g);
      const std::uint32_t t1 = hh + s1 + ch + k[i] + w[i];
      const std::uint32_t s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      const std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      const std::uint32_t t2 = s0 + maj;
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
  unsigned char out[32];
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 4; ++j) out[i * 4 + j] = static_cast<unsigned char>(h[i] >> (24 - 8 * j));
  return to_hex(out, 32);
}

std::string base64_encode(std::string_view in) {
  std::string out;
  base64_append(out, in);
  return out;
}

void base64_append(std::string& out, std::string_view in) {
  const std::size_t at = out.size();
  out.resize(at + (in.size() + 2) / 3 * 4);
  char* p = out.data() + at;
  const auto* b = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t i = 0;
  // Two characters per lookup: 12 bits index a table of character pairs (8 KiB), so three
  // bytes cost two lookups instead of four (a Kinesis record's data in every event).
  static constexpr auto kPairs = [] {
    std::array<char, 2 * 4096> t{};
    for (std::size_t v = 0; v < 4096; ++v) {
      t[2 * v] = kB64[v >> 6];
      t[2 * v + 1] = kB64[v & 63];
    }
    return t;
  }();
  for (; i + 2 < in.size(); i += 3) {
    const std::uint32_t n = (static_cast<std::uint32_t>(b[i]) << 16) | (static_cast<std::uint32_t>(b[i + 1]) << 8) | b[i + 2];
    std::memcpy(p, &kPairs[2 * (n >> 12)], 2);
    std::memcpy(p + 2, &kPairs[2 * (n & 0xFFF)], 2);
    p += 4;
  }
  if (i < in.size()) {
    std::uint32_t n = static_cast<std::uint32_t>(b[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<std::uint32_t>(b[i + 1]) << 8;
    *p++ = kB64[(n >> 18) & 63];
    *p++ = kB64[(n >> 12) & 63];
    *p++ = i + 1 < in.size() ? kB64[(n >> 6) & 63] : '=';
    *p++ = '=';
  }
}

std::optional<std::string> base64_decode(std::string_view in) {
  static constexpr auto kValue = [] {
    std::array<std::int8_t, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kB64[i])] = static_cast<std::int8_t>(i);
    return t;
  }();
  const std::size_t n = in.size();
  if (n % 4 != 0) return std::nullopt;
  // '=' pads only the last group, in its last one or two places.
  std::size_t pad = 0;
  if (n > 0 && in[n - 1] == '=') pad = in[n - 2] == '=' ? 2 : 1;
  std::string out(n / 4 * 3 - pad, '\0');
  char* o = out.data();
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t whole = pad ? n - 4 : n;
  for (std::size_t i = 0; i < whole; i += 4) {
    const int a = kValue[p[i]], b = kValue[p[i + 1]], c = kValue[p[i + 2]], d = kValue[p[i + 3]];
    if ((a | b | c | d) < 0) return std::nullopt;
    const auto v = static_cast<std::uint32_t>(a << 18 | b << 12 | c << 6 | d);
    *o++ = static_cast<char>(v >> 16);
    *o++ = static_cast<char>(v >> 8 & 255);
    *o++ = static_cast<char>(v & 255);
  }
  if (pad) {
    const int a = kValue[p[whole]], b = kValue[p[whole + 1]], c = pad == 1 ? kValue[p[whole + 2]] : 0;
    if ((a | b | c) < 0) return std::nullopt;
    const auto v = static_cast<std::uint32_t>(a << 18 | b << 12 | c << 6);
    *o++ = static_cast<char>(v >> 16);
    if (pad == 1) *o++ = static_cast<char>(v >> 8 & 255);
  }
  return out;
}

void json_append_string(std::string& out, std::string_view s) {
  out.push_back('"');
  json_append_escaped(out, s);
  out.push_back('"');
}

void json_append_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  static constexpr auto kEscaped = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = true;
    t['"'] = t['\\'] = true;
    return t;
  }();
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!kEscaped[c]) continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
  }
  out.append(s.data() + run, s.size() - run);
}

void append_epoch_seconds(std::string& out, std::int64_t epoch_ms) {
  char buf[32];
  char* end = buf;
  // The magnitude, unsigned: -1 ms is -0.001 (and INT64_MIN has no positive int64).
  std::uint64_t ms = static_cast<std::uint64_t>(epoch_ms);
  if (epoch_ms < 0) {
    *end++ = '-';
    ms = ~ms + 1;
  }
  end = std::to_chars(end, buf + 24, ms / 1000).ptr;
  const auto m = static_cast<int>(ms % 1000);
  *end++ = '.';
  *end++ = static_cast<char>('0' + m / 100);
  *end++ = static_cast<char>('0' + m / 10 % 10);
  *end++ = static_cast<char>('0' + m % 10);
  out.append(buf, end);
}

}  // namespace esm
