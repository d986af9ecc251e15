#pragma once
// The small RapidJSON helpers every front-end needs: reading members with their type checked
// first (RapidJSON's asserts are not input validation) and writing a value out.

#include <rapidjson/document.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace esm::api::json {

using rapidjson::Document;
using rapidjson::Value;
using Alloc = rapidjson::Document::AllocatorType;

// Parses body as one JSON object within esmd's nesting limit; false when it is not one.
bool parse_object(Document& doc, std::string_view body);

// The member, or nullptr when it is absent or JSON null.
const Value* member(const Value& obj, const char* name);
// The member's string; nullopt when it is absent or not a string.
std::optional<std::string> string_member(const Value& obj, const char* name);
// The member's integer; nullopt when it is absent or not an integer.
std::optional<long long> int_member(const Value& obj, const char* name);
// A string member or a list of strings, as a list; other members and list items are skipped.
std::vector<std::string> string_list(const Value& obj, const char* name);
// A map of strings; nullopt when the member is there but not an object of strings.
std::optional<std::map<std::string, std::string>> string_map(const Value& obj, const char* name);

// Writing.
std::string to_string(const Value& v);
Value string_value(std::string_view s, Alloc& a);
Value map_value(const std::map<std::string, std::string>& m, Alloc& a);

}  // namespace esm::api::json
