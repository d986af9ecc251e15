#pragma once
// Guards against JSON nested so deep that walking it recursively overflows a thread's stack.
// RapidJSON's default parser and its Writer recurse once per array or object level, so a request
// body of a million '[' (well under the body limit) would kill esmd. Request bodies are checked
// with json_depth_within() before they are parsed; payloads that are only parsed (function
// responses, message bodies) use rapidjson::kParseIterativeFlag instead.

#include <string_view>

namespace esm {

// Far deeper than any AWS request shape, far shallower than what a thread's stack can take.
inline constexpr int kMaxJsonDepth = 512;

// False when arrays and objects in `text` nest deeper than max_depth (brackets inside strings
// do not count). Says nothing about whether the text is valid JSON.
bool json_depth_within(std::string_view text, int max_depth = kMaxJsonDepth);

}  // namespace esm
