#pragma once
// Kafka's primitive types on the wire (https://kafka.apache.org/protocol.html#protocol_types):
// big-endian integers, int16-length strings, int32-length bytes and arrays, and the compact
// (unsigned-varint length + 1) forms and tagged fields of flexible versions.
//
// Reader never reads past its buffer: a read that does not fit returns a zero value and marks
// the reader failed, so a handler decodes the whole request and checks ok() once. Array and
// string lengths are checked against the bytes left, so a forged length cannot make a caller
// allocate more than the request holds.
//
// Threading: plain values.

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace esm::api::kafka_wire {

class Reader {
 public:
  explicit Reader(std::string_view buf) : p_(buf.data()), end_(buf.data() + buf.size()) {}

  bool ok() const { return ok_; }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  void fail() { ok_ = false; p_ = end_; }

  std::int8_t i8() { return static_cast<std::int8_t>(uint_n<std::uint8_t>()); }
  bool boolean() { return i8() != 0; }
  std::int16_t i16() { return static_cast<std::int16_t>(uint_n<std::uint16_t>()); }
  std::int32_t i32() { return static_cast<std::int32_t>(uint_n<std::uint32_t>()); }
  std::int64_t i64() { return static_cast<std::int64_t>(uint_n<std::uint64_t>()); }
  std::uint32_t u32() { return uint_n<std::uint32_t>(); }

  std::uint32_t uvarint() {
    std::uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      if (p_ >= end_) return fail(), 0;
      const auto b = static_cast<std::uint8_t>(*p_++);
      v |= static_cast<std::uint32_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    return fail(), 0;
  }

  // int16 length; -1 is null.
  std::optional<std::string> nullable_string() {
    const std::int16_t n = i16();
    if (n < 0) return std::nullopt;
    return take(static_cast<std::size_t>(n));
  }
  std::string string() { return nullable_string().value_or(std::string()); }
  // int32 length; -1 is null.
  std::optional<std::string_view> nullable_bytes() {
    const std::int32_t n = i32();
    if (n < 0) return std::nullopt;
    return view(static_cast<std::size_t>(n));
  }
  std::string_view bytes() { return nullable_bytes().value_or(std::string_view()); }
  // int32 count; -1 (null) is returned as -1. A count that cannot fit in the bytes left
  // (each element takes at least min_element_size bytes) fails the reader.
  std::int32_t array_length(std::size_t min_element_size = 1) {
    const std::int32_t n = i32();
    return checked_count(n, min_element_size);
  }

  // Flexible versions.
  std::optional<std::string> compact_nullable_string() {
    const std::uint32_t n = uvarint();
    if (n == 0) return std::nullopt;
    return take(n - 1);
  }
  std::string compact_string() { return compact_nullable_string().value_or(std::string()); }
  std::int32_t compact_array_length(std::size_t min_element_size = 1) {
    const std::uint32_t n = uvarint();
    if (n == 0) return -1;
    if (n - 1 > static_cast<std::uint32_t>(INT32_MAX)) return fail(), 0;
    return checked_count(static_cast<std::int32_t>(n - 1), min_element_size);
  }
  // Skips a tagged-field section (esmd knows no tagged field it needs to read).
  void skip_tags() {
    const std::uint32_t count = uvarint();
    for (std::uint32_t i = 0; i < count && ok_; ++i) {
      uvarint();
      view(uvarint());
    }
  }

  std::string_view view(std::size_t n) {
    if (n > remaining()) return fail(), std::string_view();
    std::string_view v(p_, n);
    p_ += n;
    return v;
  }
  std::string_view rest() { return view(remaining()); }

 private:
  template <typename T>
  T uint_n() {
    if (remaining() < sizeof(T)) return fail(), T{};
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | static_cast<std::uint8_t>(p_[i]));
    p_ += sizeof(T);
    return v;
  }
  std::string take(std::size_t n) { return std::string(view(n)); }
  std::int32_t checked_count(std::int32_t n, std::size_t min_element_size) {
    if (n < -1) return fail(), 0;
    if (n > 0 && static_cast<std::size_t>(n) * (min_element_size ? min_element_size : 1) > remaining())
      return fail(), 0;
    return n;
  }

  const char* p_;
  const char* end_;
  bool ok_ = true;
};

class Writer {
 public:
  std::string& buffer() { return buf_; }
  std::string take() { return std::move(buf_); }
  std::size_t size() const { return buf_.size(); }

  Writer& i8(std::int8_t v) { return put(static_cast<std::uint8_t>(v)); }
  Writer& boolean(bool v) { return i8(v ? 1 : 0); }
  Writer& i16(std::int16_t v) { return put(static_cast<std::uint16_t>(v)); }
  Writer& i32(std::int32_t v) { return put(static_cast<std::uint32_t>(v)); }
  Writer& i64(std::int64_t v) { return put(static_cast<std::uint64_t>(v)); }
  Writer& uvarint(std::uint32_t v) {
    while (v >= 0x80) {
      buf_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    buf_.push_back(static_cast<char>(v));
    return *this;
  }
  Writer& string(std::string_view s) {
    i16(static_cast<std::int16_t>(s.size()));
    buf_.append(s);
    return *this;
  }
  Writer& nullable_string(const std::optional<std::string>& s) { return s ? string(*s) : i16(-1); }
  Writer& null_string() { return i16(-1); }
  Writer& bytes(std::string_view b) {
    i32(static_cast<std::int32_t>(b.size()));
    buf_.append(b);
    return *this;
  }
  Writer& nullable_bytes(const std::optional<std::string_view>& b) { return b ? bytes(*b) : i32(-1); }
  Writer& array_length(std::size_t n) { return i32(static_cast<std::int32_t>(n)); }
  Writer& compact_string(std::string_view s) {
    uvarint(static_cast<std::uint32_t>(s.size() + 1));
    buf_.append(s);
    return *this;
  }
  Writer& compact_array_length(std::size_t n) { return uvarint(static_cast<std::uint32_t>(n + 1)); }
  Writer& empty_tags() { return uvarint(0); }
  Writer& raw(std::string_view b) {
    buf_.append(b);
    return *this;
  }

 private:
  template <typename T>
  Writer& put(T v) {
    char b[sizeof(T)];
    for (std::size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<char>(v >> (8 * (sizeof(T) - 1 - i)));
    buf_.append(b, sizeof(T));
    return *this;
  }
  std::string buf_;
};

}  // namespace esm::api::kafka_wire
