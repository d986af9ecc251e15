#pragma once
// EventFilter: a mapping's FilterCriteria, compiled once and matched against every record
// (filtering.md). The pattern language is EventBridge's (aws/event-ruler): exact strings,
// numbers, booleans and null, prefix/suffix (also ignore-case), equals-ignore-case,
// anything-but in all its forms, numeric ranges, exists, cidr, wildcard and $or, with AWS's
// array semantics (any element matches; sibling fields reached through one array must be
// satisfied by the same element) and dotted keys ("a.b" is the path a -> b on both sides).
// Filters are ORed.
//
// No source-specific code lives here: a poller builds the record's view (filtering.md §6,
// set_payload_view() below helps) and asks matches().
//
// Threading: an EventFilter is immutable after compile(); matches() may run on any number of
// threads at once. Copies and moves share the compiled program.

#include <rapidjson/document.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace esm::pollers {

// Lambda's default quota of filters per mapping and the API's limit on one Pattern.
inline constexpr std::size_t kMaxFilters = 5;
inline constexpr std::size_t kMaxPatternChars = 4096;
// The one message Lambda answers for every invalid pattern (filtering.md §7).
inline constexpr const char* kInvalidFilterMessage = "Invalid filter pattern definition.";

class EventFilter {
 public:
  // No filters: everything matches.
  EventFilter();

  // Compiles a mapping's FilterCriteria patterns (each one JSON object as text; an empty
  // vector means no filter). Any invalid pattern, an empty one, one over 4096 characters or
  // more than kMaxFilters patterns: InvalidParameter with kInvalidFilterMessage (the reason
  // is logged at debug level).
  static Result<EventFilter> compile(const std::vector<std::string>& patterns);

  bool empty() const;
  // The JSON object the pattern sees (the record's view). Does not allocate once the calling
  // thread's scratch space has grown to the size the filter and the events need.
  bool matches(const rapidjson::Value& event) const;

  struct Program;  // the compiled form, in filter.cc

 private:
  explicit EventFilter(std::shared_ptr<const Program> program);
  std::shared_ptr<const Program> program_;
};

// Why a pattern is invalid ("" when valid): the detail compile() logs. For tests and logs;
// clients only ever see kInvalidFilterMessage.
std::string filter_pattern_error(const std::string& pattern);

// Adds member `key` to the object `view`: `payload` parsed as JSON when it is valid JSON text
// (objects, arrays and scalars alike), otherwise the plain string; nothing at all when the
// bytes are not valid UTF-8, so payload matchers fail and `exists: false` holds
// (filtering.md §6, §9.10, §9.11). Used for the SQS `body`, the Kinesis `data` (after base64),
// the Kafka `value`.
void set_payload_view(rapidjson::Value& view, std::string_view key, std::string_view payload,
                      rapidjson::Document::AllocatorType& alloc);

// Parses a whole record (or event) for matching with the flags the matcher expects (numbers
// at full precision). False when `json` is not valid JSON.
bool parse_for_filter(rapidjson::Document& doc, std::string_view json);

}  // namespace esm::pollers
