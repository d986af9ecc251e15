// AddTagsToStream, RemoveTagsFromStream and ListTagsForStream.

#include "api/kinesis/checker.h"
#include "api/kinesis/ops.h"

namespace esm::api::kinesis_wire {
namespace {

std::optional<WireError> check_add_tags(const Value& in, Puts&) {
  Checker c(in);
  c.stream_ref();
  const Value* t = c.member("Tags");
  if (!t) {
    c.model().null("tags");
    return c.error();
  }
  if (!t->IsObject()) {
    c.type_error("Tags", "a map");
    return c.error();
  }
  c.size("tags", t->MemberCount(), 200, "{}", "tags");
  for (const auto& m : t->GetObject()) {
    if (!m.value.IsString()) {
      c.type_error("Tags", "a map of strings");
      break;
    }
    const std::string k(m.name.GetString(), m.name.GetStringLength());
    if (k.empty() || k.size() > 128)
      c.model().value(k, "tags",
                      "Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member "
                      "must have length greater than or equal to 1]");
    if (m.value.GetStringLength() > 256)
      c.model().value(m.value.GetString(), "tags",
                      "Map value must satisfy constraint: [Member must have length less than or equal to 256]");
  }
  return c.error();
}

Outcome add_tags(Call& call) {
  auto s = call.stream();
  if (!s) return describe(s.error());
  std::map<std::string, std::string> tags;
  for (const auto& m : call.in["Tags"].GetObject()) tags[m.name.GetString()] = m.value.GetString();
  if (auto r = call.streams.add_tags(call.c, **s, tags); !r) return describe(r.error());
  return std::string();
}

std::optional<WireError> check_remove_tags(const Value& in, Puts&) {
  Checker c(in);
  c.stream_ref();
  const Value* keys = c.member("TagKeys");
  if (!keys) {
    c.model().null("tagKeys");
  } else if (!keys->IsArray()) {
    c.type_error("TagKeys", "a list");
  } else {
    c.size("tagKeys", keys->Size(), 50, "[]", "keys");
    for (const auto& k : keys->GetArray())
      if (!k.IsString()) c.type_error("TagKeys", "a list of strings");
  }
  return c.error();
}

Outcome remove_tags(Call& call) {
  auto s = call.stream();
  if (!s) return describe(s.error());
  std::vector<std::string> keys;
  for (const auto& k : call.in["TagKeys"].GetArray()) keys.emplace_back(k.GetString(), k.GetStringLength());
  if (auto r = call.streams.remove_tags(call.c, **s, keys); !r) return describe(r.error());
  return std::string();
}

std::optional<WireError> check_list_tags(const Value& in, Puts&) {
  Checker c(in);
  c.stream_ref();
  c.string("ExclusiveStartTagKey", "exclusiveStartTagKey", false, 1, 128);
  c.integer("Limit", "limit", false, 1, 50);
  return c.error();
}

Outcome list_tags(Call& call) {
  auto sr = call.stream();
  if (!sr) return describe(sr.error());
  const std::string after = str(call.in, "ExclusiveStartTagKey").value_or("");
  const long long limit = integer(call.in, "Limit").value_or(50);
  return object_body([&](Writer& w) {
    w.Key("Tags");
    w.StartArray();
    long long n = 0;
    bool more = false;
    for (const auto& [k, v] : (*sr)->tags) {
      if (!after.empty() && k <= after) continue;
      if (n >= limit) {
        more = true;
        break;
      }
      w.StartObject();
      put_string(w, "Key", k);
      put_string(w, "Value", v);
      w.EndObject();
      ++n;
    }
    w.EndArray();
    w.Key("HasMoreTags");
    w.Bool(more);
  });
}

}  // namespace

void add_tag_ops(OperationTable& table) {
  table["AddTagsToStream"] = {false, check_add_tags, add_tags};
  table["RemoveTagsFromStream"] = {false, check_remove_tags, remove_tags};
  table["ListTagsForStream"] = {true, check_list_tags, list_tags};
}

}  // namespace esm::api::kinesis_wire
