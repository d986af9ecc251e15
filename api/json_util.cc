#include "api/json_util.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/json_depth.h"

namespace esm::api::json {

bool parse_object(Document& doc, std::string_view body) {
  if (!json_depth_within(body)) return false;
  doc.Parse(body.data(), body.size());
  return !doc.HasParseError() && doc.IsObject();
}

const Value* member(const Value& obj, const char* name) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::optional<std::string> string_member(const Value& obj, const char* name) {
  const Value* v = member(obj, name);
  if (!v || !v->IsString()) return std::nullopt;
  return std::string(v->GetString(), v->GetStringLength());
}

std::optional<long long> int_member(const Value& obj, const char* name) {
  const Value* v = member(obj, name);
  if (!v || !v->IsInt64()) return std::nullopt;
  return v->GetInt64();
}

std::vector<std::string> string_list(const Value& obj, const char* name) {
  std::vector<std::string> out;
  const Value* v = member(obj, name);
  if (!v) return out;
  if (v->IsString()) out.emplace_back(v->GetString(), v->GetStringLength());
  if (v->IsArray())
    for (const auto& e : v->GetArray())
      if (e.IsString()) out.emplace_back(e.GetString(), e.GetStringLength());
  return out;
}

std::optional<std::map<std::string, std::string>> string_map(const Value& obj, const char* name) {
  std::map<std::string, std::string> out;
  const Value* v = member(obj, name);
  if (!v) return out;
  if (!v->IsObject()) return std::nullopt;
  for (const auto& m : v->GetObject()) {
    if (!m.value.IsString()) return std::nullopt;
    out.emplace(std::string(m.name.GetString(), m.name.GetStringLength()),
                std::string(m.value.GetString(), m.value.GetStringLength()));
  }
  return out;
}

std::string to_string(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

Value string_value(std::string_view s, Alloc& a) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

Value map_value(const std::map<std::string, std::string>& m, Alloc& a) {
  Value out(rapidjson::kObjectType);
  for (const auto& [k, v] : m) out.AddMember(string_value(k, a), string_value(v, a), a);
  return out;
}

}  // namespace esm::api::json
