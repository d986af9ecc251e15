#include <charconv>
#include <set>

#include "api/json_util.h"
#include "api/sqs/operation.h"
#include "core/codec.h"

namespace esm::api::sqs_wire {
namespace {

SqsFault invalid(std::string message) { return {SqsCode::kInvalidParameterValue, std::move(message)}; }

bool valid_batch_id(const std::string& id) {
  if (id.empty() || id.size() > 80) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  return true;
}

Expected<sqs::MessageAttribute, SqsFault> message_attribute(const std::string& name, const Value& v) {
  sqs::MessageAttribute a;
  a.name = name;
  if (!v.IsObject()) return invalid("Message attribute '" + sqs_printable(a.name) + "' is invalid.");
  auto dt = json::string_member(v, "DataType");
  if (!dt || dt->empty())
    return invalid("The message attribute '" + sqs_printable(a.name) + "' must contain non-empty message attribute type.");
  a.data_type = *dt;
  if (auto b = json::string_member(v, "BinaryValue")) {
    auto raw = base64_decode(*b);
    if (!raw) return invalid("The binary value of message attribute '" + sqs_printable(a.name) + "' is not valid base64.");
    a.value = *raw;
    a.binary = true;
  } else if (auto s = json::string_member(v, "StringValue")) {
    a.value = *s;
  }
  if (a.binary ? a.value.empty() && !v.HasMember("BinaryValue") : !v.HasMember("StringValue")) {
    const bool binary_type = a.data_type.starts_with("Binary");
    return invalid("The message attribute '" + sqs_printable(a.name) +
                   "' must contain non-empty message attribute value for message attribute type '" +
                   (binary_type ? "Binary" : sqs_printable(a.data_type.substr(0, a.data_type.find('.')))) + "'.");
  }
  return a;
}

Expected<std::vector<sqs::MessageAttribute>, SqsFault> message_attributes(const Value& o, const char* name) {
  std::vector<sqs::MessageAttribute> out;
  const Value* v = json::member(o, name);
  if (!v) return out;
  if (!v->IsObject()) return invalid(std::string(name) + " must be a map.");
  for (const auto& m : v->GetObject()) {
    auto a = message_attribute(std::string(m.name.GetString(), m.name.GetStringLength()), m.value);
    if (!a) return a.error();
    out.push_back(std::move(*a));
  }
  return out;
}

}  // namespace

Expected<std::optional<long long>, SqsFault> integer(const Value& o, const char* name) {
  const Value* v = json::member(o, name);
  if (!v) return std::optional<long long>{};
  if (v->IsInt64()) return std::optional<long long>{v->GetInt64()};
  if (v->IsString()) {
    std::string_view s(v->GetString(), v->GetStringLength());
    long long n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc() && p == s.data() + s.size()) return std::optional<long long>{n};
  }
  return invalid(std::string("Value for parameter ") + name + " is invalid. Reason: must be an integer.");
}

Expected<std::map<std::string, std::string>, SqsFault> string_map(const Value& o, const char* name) {
  auto m = json::string_map(o, name);
  if (!m) return invalid(std::string(name) + " must be a map of strings.");
  return std::move(*m);
}

Expected<sqs::SendInput, SqsFault> send_input(const Value& e, const std::string& sender) {
  sqs::SendInput in;
  auto body = json::string_member(e, "MessageBody");
  if (!body) return sqs_missing_parameter("MessageBody");
  in.body = std::move(*body);
  auto delay = integer(e, "DelaySeconds");
  if (!delay) return delay.error();
  if (*delay) in.delay_s = static_cast<int>(**delay);
  auto attrs = message_attributes(e, "MessageAttributes");
  if (!attrs) return attrs.error();
  in.attributes = std::move(*attrs);
  auto sys = message_attributes(e, "MessageSystemAttributes");
  if (!sys) return sys.error();
  for (const auto& s : *sys) {
    if (s.name != "AWSTraceHeader") return invalid("Message system attribute name '" + sqs_printable(s.name) + "' is invalid.");
    in.trace_header = s.value;
  }
  in.group_id = json::string_member(e, "MessageGroupId").value_or("");
  in.dedup_id = json::string_member(e, "MessageDeduplicationId").value_or("");
  in.sender_id = sender;
  return in;
}

std::string sender_id_of(const Request& req) {
  std::string_view auth = req.header("authorization");
  const auto pos = auth.find("Credential=");
  if (pos == std::string_view::npos) return "AIDAESMDLOCALSENDER01";
  std::string_view cred = auth.substr(pos + 11);
  return std::string(cred.substr(0, cred.find('/')));
}

Expected<std::string, SqsFault> queue_name_from_url(const std::string& url, const std::string& account) {
  const SqsFault missing{SqsCode::kNonExistentQueue, "The specified queue does not exist."};
  std::string_view u = url;
  if (auto scheme = u.find("://"); scheme != std::string_view::npos) {
    u.remove_prefix(scheme + 3);
    const auto slash = u.find('/');
    if (slash == std::string_view::npos) u = {};
    else u.remove_prefix(slash);
  }
  while (!u.empty() && u.back() == '/') u.remove_suffix(1);
  const auto last = u.rfind('/');
  if (last == std::string_view::npos || last + 1 >= u.size()) return missing;
  std::string name(u.substr(last + 1));
  std::string_view prefix = u.substr(0, last);
  const auto acct_start = prefix.rfind('/');
  std::string acct(prefix.substr(acct_start == std::string_view::npos ? 0 : acct_start + 1));
  if (!acct.empty() && acct != account && acct != "queue") return missing;
  return name;
}

Expected<const Value*, SqsFault> batch_entries(const Value& in, const char* entry_shape) {
  auto it = in.FindMember("Entries");
  if (it == in.MemberEnd() || !it->value.IsArray() || it->value.Empty())
    return SqsFault{SqsCode::kEmptyBatchRequest,
                    std::string("There should be at least one ") + entry_shape + " in the request."};
  if (it->value.Size() > 10)
    return SqsFault{SqsCode::kTooManyEntriesInBatchRequest,
                    "Maximum number of entries per request are 10. You have sent " + std::to_string(it->value.Size()) +
                        "."};
  std::set<std::string> ids;
  for (const auto& e : it->value.GetArray()) {
    auto id = e.IsObject() ? json::string_member(e, "Id") : std::nullopt;
    if (!id || !valid_batch_id(*id))
      return SqsFault{SqsCode::kInvalidBatchEntryId,
                      "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be "
                      "at most 80 letters long."};
    if (!ids.insert(*id).second) return SqsFault{SqsCode::kBatchEntryIdsNotDistinct, "Id " + *id + " repeated."};
  }
  return &it->value;
}

Expected<Queue*, SqsFault> OpContext::queue() {
  auto url = json::string_member(in, "QueueUrl");
  if (!url) return sqs_missing_parameter("QueueUrl");
  auto name = queue_name_from_url(*url, account);
  if (!name) return name.error();
  auto q = queues.find(region, *name);
  if (!q) return sqs_fault(q.error());
  return *q;
}

}  // namespace esm::api::sqs_wire
