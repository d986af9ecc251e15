#include <catch2/catch.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <random>
#include <string>

#include "core/codec.h"

using namespace esm;

TEST_CASE("md5_hex matches the RFC 1321 test suite") {
  CHECK(md5_hex("") == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(md5_hex("a") == "0cc175b9c0f1b6a831c399e269772661");
  CHECK(md5_hex("abc") == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(md5_hex("message digest") == "f96b697d7cb7938d525a2f31aaf161d0");
  CHECK(md5_hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890") ==
        "57edf4a22be3c955ac49da2e2107b67a");
}

TEST_CASE("md5_hex handles inputs around the 56- and 64-byte padding boundaries") {
  // Reference values from coreutils md5sum.
  CHECK(md5_hex(std::string(55, 'a')) == "ef1772b6dff9a122358552954ad0df65");
  CHECK(md5_hex(std::string(56, 'a')) == "3b0c8ac703f828b04c6c197006d17218");
  CHECK(md5_hex(std::string(64, 'a')) == "014842d480b571495a4a0363793f7367");
}

TEST_CASE("sha256_hex matches the FIPS 180-4 examples") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("base64 round-trips every length and refuses non-canonical text") {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    bytes.push_back(static_cast<char>(i * 37 + 11));
    auto enc = base64_encode(bytes);
    CHECK(enc.size() % 4 == 0);
    auto dec = base64_decode(enc);
    REQUIRE(dec);
    CHECK(*dec == bytes);
  }
  CHECK(base64_encode("hello!!") == "aGVsbG8hIQ==");
  // Every 12-bit value of the pair table, against RFC 4648's alphabet one sextet at a time.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  // (Each value appears once as the high half and once, through the xor, as the low half.)
  for (unsigned v = 0; v < (1u << 12); ++v) {
    const unsigned n = (v << 12) | (v ^ 0xA5A);
    const std::string three{static_cast<char>(n >> 16), static_cast<char>(n >> 8 & 0xFF), static_cast<char>(n & 0xFF)};
    const std::string want{alphabet[n >> 18], alphabet[n >> 12 & 63], alphabet[n >> 6 & 63], alphabet[n & 63]};
    REQUIRE(base64_encode(three) == want);
  }
  CHECK_FALSE(base64_decode("abc"));
  CHECK_FALSE(base64_decode("ab=c"));
  CHECK_FALSE(base64_decode("a*bc"));
}

namespace {

std::string rapidjson_string(const std::string& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return {buf.GetString(), buf.GetSize()};
}

std::string appended(const std::string& s) {
  std::string out = "x";
  json_append_string(out, s);
  return out.substr(1);
}

}  // namespace

TEST_CASE("json_append_string writes what RapidJSON's Writer writes, byte for byte") {
  CHECK(appended("") == "\"\"");
  CHECK(appended("plain") == "\"plain\"");
  CHECK(appended("a\"b\\c\n\t\x01\x1f\x7f/") == "\"a\\\"b\\\\c\\n\\t\\u0001\\u001F\x7f/\"");
  CHECK(appended("caf\xc3\xa9 \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
  std::string every;
  for (int c = 0; c < 256; ++c) every.push_back(static_cast<char>(c));
  CHECK(appended(every) == rapidjson_string(every));
  // Random strings over the bytes that matter (ASCII with every control byte and both escapes).
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 40, ' ');
    for (auto& ch : s) ch = static_cast<char>(1 + rng() % 127);
    REQUIRE(appended(s) == rapidjson_string(s));
  }
}
