// Kafka's wire primitives: a reader never reads past its buffer, whatever lengths the bytes
// claim, and the writer's output reads back.

#include <catch2/catch.hpp>

#include "api/kafka/wire.h"

using esm::api::kafka_wire::Reader;
using esm::api::kafka_wire::Writer;

TEST_CASE("what the writer writes, the reader reads back") {
  Writer w;
  w.i8(-3).i16(-2).i32(70000).i64(-5'000'000'000).string("abc").null_string().bytes("xyz").array_length(2);
  w.uvarint(300).compact_string("hi").compact_array_length(0).empty_tags();
  std::string buf = w.take();
  Reader r(buf);
  CHECK(r.i8() == -3);
  CHECK(r.i16() == -2);
  CHECK(r.i32() == 70000);
  CHECK(r.i64() == -5'000'000'000);
  CHECK(r.string() == "abc");
  CHECK_FALSE(r.nullable_string().has_value());
  CHECK(r.bytes() == "xyz");
  CHECK(r.array_length() == 2);
  CHECK(r.uvarint() == 300);
  CHECK(r.compact_string() == "hi");
  CHECK(r.compact_array_length() == 0);
  r.skip_tags();
  CHECK(r.ok());
  CHECK(r.remaining() == 0);
}

TEST_CASE("a read past the end fails the reader and returns zero values") {
  std::string buf("\x00\x01", 2);
  Reader r(buf);
  CHECK(r.i32() == 0);
  CHECK_FALSE(r.ok());
  CHECK(r.i16() == 0);
  CHECK(r.string().empty());
}

TEST_CASE("a string, bytes or array length larger than what is left fails the reader") {
  for (std::string buf : {std::string("\x7f\xff" "ab", 4), std::string("\x7f\xff\xff\xff" "ab", 6)}) {
    Reader r(buf);
    if (buf.size() == 4) r.string();
    else r.bytes();
    CHECK_FALSE(r.ok());
  }
  std::string huge("\x7f\xff\xff\xff", 4);
  Reader r(huge);
  CHECK(r.array_length() == 0);
  CHECK_FALSE(r.ok());
}

TEST_CASE("a negative length other than -1 fails the reader; -1 is null") {
  std::string minus_two("\xff\xff\xff\xfe", 4);
  Reader r(minus_two);
  r.array_length();
  CHECK_FALSE(r.ok());
  std::string minus_one("\xff\xff\xff\xff", 4);
  Reader n(minus_one);
  CHECK(n.array_length() == -1);
  CHECK(n.ok());
}

TEST_CASE("an unsigned varint longer than five bytes fails the reader") {
  std::string buf(6, '\xff');
  Reader r(buf);
  r.uvarint();
  CHECK_FALSE(r.ok());
}

TEST_CASE("a tagged-field section whose sizes overrun the buffer fails the reader") {
  std::string buf("\x01\x00\x7f", 3);
  Reader r(buf);
  r.skip_tags();
  CHECK_FALSE(r.ok());
}
