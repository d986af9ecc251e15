#pragma once
// A string-to-string map as a JSON object: how the stores keep tags and queue attributes in one
// TEXT column.

#include <map>
#include <string>

namespace esm::storage {

std::string encode_string_map(const std::map<std::string, std::string>& m);
// The string members of a JSON object; empty when `json` is not an object (a damaged column
// then loads as no tags rather than failing the start-up).
std::map<std::string, std::string> decode_string_map(const std::string& json);

}  // namespace esm::storage
