// The filter engine (pollers/filter.h): FilterCriteria patterns compiled, then matched against
// an event, as a whole JSON record and as a payload view ({"body": <bytes>}, which is how the
// SQS, Kinesis and Kafka pollers present a record's payload).
//
// Input: the patterns, separated by tabs, up to the first newline; the event after it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "pollers/filter.h"

using namespace esm::pollers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto nl = in.find('\n');
  const std::string_view patterns_text = in.substr(0, nl);
  const std::string_view event = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  std::vector<std::string> patterns;
  for (std::size_t start = 0; start <= patterns_text.size();) {
    const auto tab = patterns_text.find('\t', start);
    patterns.emplace_back(patterns_text.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  auto filter = EventFilter::compile(patterns);
  // The reason a single pattern is refused and compile() agree.
  if (patterns.size() == 1 && filter.is_ok() != filter_pattern_error(patterns[0]).empty()) std::abort();
  if (!filter) return 0;

  rapidjson::Document doc;
  if (parse_for_filter(doc, event) && doc.IsObject()) (void)filter->matches(doc);

  rapidjson::Document view(rapidjson::kObjectType);
  set_payload_view(view, "body", event, view.GetAllocator());
  view.AddMember("messageId", "m-1", view.GetAllocator());
  (void)filter->matches(view);
  return 0;
}
