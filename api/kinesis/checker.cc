#include "api/kinesis/checker.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "core/codec.h"

namespace esm::api::kinesis_wire {
namespace {

// 0|([1-9]\d{0,max_digits-1})
bool decimal_pattern(std::string_view s, std::size_t max_digits) {
  if (s == "0") return true;
  if (s.empty() || s.size() > max_digits || s[0] == '0') return false;
  return s.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

bool is_name(std::string_view s) {
  for (char ch : s)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
          ch == '.' || ch == '-'))
      return false;
  return !s.empty();
}

bool is_sequence_number(std::string_view s) { return decimal_pattern(s, 129); }
bool is_hash_key(std::string_view s) { return decimal_pattern(s, 39); }

// Matched by hand in one pass: std::regex recurses once a character and a long ARN would
// exhaust the stack.
bool is_stream_arn(std::string_view s) {
  if (!s.starts_with("arn:aws")) return false;
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  const std::size_t kinesis = s.find(":kinesis:", 7);
  if (kinesis == std::string_view::npos) return false;
  // '.' matches anything but a line break; \S+ runs to the end.
  const std::size_t line_break = s.find_first_of("\n\r", 7);
  std::size_t last_space = std::string_view::npos;
  for (std::size_t i = s.size(); i-- > 0;)
    if (is_space(s[i])) {
      last_space = i;
      break;
    }
  for (std::size_t at = s.find(":stream/", kinesis); at != std::string_view::npos; at = s.find(":stream/", at + 1)) {
    if (at < 13 || kinesis + 9 > at - 13 || s[at - 13] != ':') continue;
    if (line_break != std::string_view::npos && line_break < at - 13) return false;
    bool digits = true;
    for (std::size_t i = at - 12; i < at; ++i) digits = digits && s[i] >= '0' && s[i] <= '9';
    if (!digits || at + 8 >= s.size()) continue;
    if (last_space == std::string_view::npos || last_space < at + 8) return true;
  }
  return false;
}

const Checker::Value* Checker::member(const char* name) const {
  auto it = in_.FindMember(name);
  if (it == in_.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::optional<std::string> Checker::string(const char* name, const char* wire, bool required, std::size_t min,
                                           std::size_t max, const char* pattern, bool (*matches)(std::string_view)) {
  const Value* v = member(name);
  if (!v) {
    if (required) model_.null(wire);
    return std::nullopt;
  }
  if (!v->IsString()) {
    type_error(name, "a string");
    return std::nullopt;
  }
  std::string s(v->GetString(), v->GetStringLength());
  check_string(s, wire, min, max, pattern, matches);
  return s;
}

void Checker::check_string(const std::string& s, const std::string& wire, std::size_t min, std::size_t max,
                           const char* pattern, bool (*matches)(std::string_view)) {
  model_.length(wire, s, min, max);
  if (pattern && matches && !s.empty() && s.size() <= max && !matches(s))
    model_.value(s, wire, std::string("Member must satisfy regular expression pattern: ") + pattern);
}

std::optional<long long> Checker::integer(const char* name, const char* wire, bool required,
                                          std::optional<long long> min, std::optional<long long> max) {
  const Value* v = member(name);
  if (!v) {
    if (required) model_.null(wire);
    return std::nullopt;
  }
  if (!v->IsInt64()) {
    type_error(name, "an integer");
    return std::nullopt;
  }
  const long long n = v->GetInt64();
  if (n < INT32_MIN || n > INT32_MAX) {
    type_error(name, "a 32-bit integer");
    return std::nullopt;
  }
  model_.range(wire, n, min.value_or(INT32_MIN), max.value_or(INT32_MAX));
  return n;
}

std::optional<std::string> Checker::enumeration(const char* name, const char* wire, bool required,
                                                const std::vector<const char*>& values) {
  auto s = string(name, wire, required, 0, SIZE_MAX);
  if (!s) return s;
  if (!model_.one_of_any(wire, *s, values)) return std::nullopt;
  return s;
}

std::optional<std::string> Checker::blob(const Value& obj, const char* name, const std::string& wire,
                                         std::size_t max) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    model_.null(wire);
    return std::nullopt;
  }
  if (!it->value.IsString()) {
    type_error(name, "a base64-encoded string");
    return std::nullopt;
  }
  auto raw = base64_decode(std::string_view(it->value.GetString(), it->value.GetStringLength()));
  if (!raw) {
    if (!serialization_)
      serialization_ = WireError{ErrorType::kSerialization, std::string("Base64 encoded value of ") + name +
                                                                " is not valid."};
    return std::nullopt;
  }
  if (raw->size() > max)
    model_.violation("'java.nio.HeapByteBuffer[pos=0 lim=" + std::to_string(raw->size()) +
                         " cap=" + std::to_string(raw->size()) + "]'",
                     wire, "Member must have length less than or equal to " + std::to_string(max));
  return raw;
}

std::optional<std::int64_t> Checker::timestamp(const char* name) {
  const Value* v = member(name);
  if (!v) return std::nullopt;
  double secs = 0;
  if (v->IsNumber()) {
    secs = v->GetDouble();
  } else if (v->IsString()) {
    char* end = nullptr;
    secs = std::strtod(v->GetString(), &end);
    if (end == v->GetString() || *end != '\0') {
      type_error(name, "a timestamp");
      return std::nullopt;
    }
  } else {
    type_error(name, "a timestamp");
    return std::nullopt;
  }
  if (!std::isfinite(secs) || secs < 0 || secs > 1e13) {
    type_error(name, "a timestamp");
    return std::nullopt;
  }
  return static_cast<std::int64_t>(std::llround(secs * 1000.0));
}

void Checker::size(const std::string& wire, std::size_t n, std::size_t max, const char* brackets,
                   const char* noun) {
  const std::string open(1, brackets[0]), close(1, brackets[1]);
  if (n < 1) model_.violation("'" + open + close + "'", wire, "Member must have length greater than or equal to 1");
  if (n > max)
    model_.violation("'" + open + std::to_string(n) + " " + noun + close + "'", wire,
                     "Member must have length less than or equal to " + std::to_string(max));
}

void Checker::stream_ref() {
  string("StreamName", "streamName", false, 1, 128, kNamePattern, is_name);
  string("StreamARN", "streamARN", false, 1, 2048, kArnPattern, is_stream_arn);
}

void Checker::type_error(const char* name, const char* expected) {
  if (!serialization_)
    serialization_ = WireError{ErrorType::kSerialization,
                               std::string("Unexpected value type for ") + name + ": expected " + expected + "."};
}

std::optional<WireError> Checker::error() const {
  if (serialization_) return serialization_;
  if (model_.ok()) return std::nullopt;
  return WireError{ErrorType::kValidation, model_.message()};
}

}  // namespace esm::api::kinesis_wire
