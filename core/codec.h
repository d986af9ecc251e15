#pragma once
// Byte-level codecs SQS clients check: MD5 digests (boto3 verifies MD5OfMessageBody and
// MD5OfMessageAttributes) and base64 (binary attributes, Kinesis data); and the JSON string
// writer that the hot event writers use instead of a general JSON writer.

#include <optional>
#include <cstdint>
#include <string>
#include <string_view>

namespace esm {

// Lower-case hex MD5 of the bytes (RFC 1321).
std::string md5_hex(std::string_view data);

// Lower-case hex SHA-256 (FIPS 180-4); SQS content-based deduplication ids are this of the body.
std::string sha256_hex(std::string_view data);

std::string base64_encode(std::string_view bytes);
// Appends the base64 of bytes to out (for writers that build one large answer).
void base64_append(std::string& out, std::string_view bytes);
// Appends s as a JSON string, quotes included, escaped byte for byte as RapidJSON's Writer
// escapes it: \" \\ \b \f \n \r \t, other bytes below 0x20 as \u00XX, the rest (UTF-8
// included) as they are. Runs without anything to escape are copied whole.
void json_append_string(std::string& out, std::string_view s);
// The same without the quotes, for a string written in pieces.
void json_append_escaped(std::string& out, std::string_view s);

// Epoch seconds with the milliseconds as three decimals, as AWS writes a timestamp in JSON:
// 1732900800.123 (a time before the epoch has its sign: -1 ms is -0.001).
void append_epoch_seconds(std::string& out, std::int64_t epoch_ms);

// nullopt for input that is not canonical padded base64 (whitespace is not accepted).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace esm
