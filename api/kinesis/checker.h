#pragma once
// Checker: the Kinesis service model's constraints on a request. It collects what a request
// breaks: type errors (SerializationException, the first one wins) and model constraints
// (ValidationException, all of them, collected and worded by the shared api/model_check).

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/kinesis/wire.h"
#include "api/model_check.h"

namespace esm::api::kinesis_wire {

// The model's patterns, matched by hand.
bool is_name(std::string_view s);             // [a-zA-Z0-9_.-]+
bool is_sequence_number(std::string_view s);  // 0|([1-9]\d{0,128})
bool is_hash_key(std::string_view s);         // 0|([1-9]\d{0,38})
bool is_stream_arn(std::string_view s);       // arn:aws.*:kinesis:.*:\d{12}:stream/\S+

inline constexpr const char* kNamePattern = "[a-zA-Z0-9_.-]+";
inline constexpr const char* kArnPattern = "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+";
inline constexpr const char* kHashKeyPattern = "0|([1-9]\\d{0,38})";
inline constexpr const char* kSequencePattern = "0|([1-9]\\d{0,128})";

class Checker {
 public:
  using Value = rapidjson::Value;
  explicit Checker(const Value& in) : in_(in) {}

  // The member, or nullptr when absent or null.
  const Value* member(const char* name) const;

  std::optional<std::string> string(const char* name, const char* wire, bool required, std::size_t min,
                                    std::size_t max, const char* pattern = nullptr,
                                    bool (*matches)(std::string_view) = nullptr);
  void check_string(const std::string& s, const std::string& wire, std::size_t min, std::size_t max,
                    const char* pattern, bool (*matches)(std::string_view));
  std::optional<long long> integer(const char* name, const char* wire, bool required, std::optional<long long> min,
                                   std::optional<long long> max);
  std::optional<std::string> enumeration(const char* name, const char* wire, bool required,
                                         const std::vector<const char*>& values);
  // A blob: base64 on the wire; the decoded bytes.
  std::optional<std::string> blob(const Value& obj, const char* name, const std::string& wire, std::size_t max);
  // Epoch seconds (a number; a numeric string is accepted too), as epoch ms.
  std::optional<std::int64_t> timestamp(const char* name);
  // A list or map member's size, 1 to max entries. AWS prints an empty one as '[]' or '{}' and a
  // long one by its count, e.g. '[501 records]'; brackets is "[]" or "{}".
  void size(const std::string& wire, std::size_t n, std::size_t max, const char* brackets, const char* noun);
  // StreamName and StreamARN, the pair most operations take (one of them is needed).
  void stream_ref();

  // The model-layer violations; operations add the ones the typed readers above do not cover.
  ModelCheck& model() { return model_; }
  void type_error(const char* name, const char* expected);

  // nullopt when the request satisfies the model.
  std::optional<WireError> error() const;

 private:
  const Value& in_;
  ModelCheck model_;
  std::optional<WireError> serialization_;
};

}  // namespace esm::api::kinesis_wire
