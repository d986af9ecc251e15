#include "api/sqs_api.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>
#include <set>

#include "core/codec.h"
#include "core/json_depth.h"

namespace esm::api {
namespace {

using rapidjson::Document;
using rapidjson::Value;
using storage::SqsError;
using Alloc = rapidjson::Document::AllocatorType;

enum class Protocol { kJson, kQuery };

constexpr const char* kXmlNs = "http://queue.amazonaws.com/doc/2012-11-05/";

// ---- the one table from SqsError to both wire formats ---------------------------------

struct WireError {
  const char* query_code;  // Code in XML; x-amzn-query-error in JSON
  const char* json_type;   // __type shape name in the JSON protocol
  int status;
  bool sender_fault;
};

WireError wire_error(const Status& s) {
  switch (static_cast<SqsError>(s.detail())) {
    case SqsError::kNonExistentQueue: return {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", 400, true};
    case SqsError::kQueueAlreadyExists: return {"QueueAlreadyExists", "QueueNameExists", 400, true};
    case SqsError::kInvalidParameterValue: return {"InvalidParameterValue", "InvalidParameterValueException", 400, true};
    case SqsError::kMissingParameter: return {"MissingParameter", "MissingRequiredParameterException", 400, true};
    case SqsError::kInvalidAttributeName: return {"InvalidAttributeName", "InvalidAttributeName", 400, true};
    case SqsError::kInvalidAttributeValue: return {"InvalidAttributeValue", "InvalidAttributeValue", 400, true};
    case SqsError::kReceiptHandleIsInvalid: return {"ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 400, true};
    case SqsError::kMessageNotInflight: return {"AWS.SimpleQueueService.MessageNotInflight", "MessageNotInflight", 400, true};
    case SqsError::kInvalidMessageContents: return {"InvalidMessageContents", "InvalidMessageContents", 400, true};
    case SqsError::kTooManyEntriesInBatchRequest:
      return {"AWS.SimpleQueueService.TooManyEntriesInBatchRequest", "TooManyEntriesInBatchRequest", 400, true};
    case SqsError::kEmptyBatchRequest: return {"AWS.SimpleQueueService.EmptyBatchRequest", "EmptyBatchRequest", 400, true};
    case SqsError::kBatchEntryIdsNotDistinct:
      return {"AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "BatchEntryIdsNotDistinct", 400, true};
    case SqsError::kInvalidBatchEntryId: return {"AWS.SimpleQueueService.InvalidBatchEntryId", "InvalidBatchEntryId", 400, true};
    case SqsError::kBatchRequestTooLong: return {"AWS.SimpleQueueService.BatchRequestTooLong", "BatchRequestTooLong", 400, true};
    case SqsError::kUnsupportedOperation:
      return {"AWS.SimpleQueueService.UnsupportedOperation", "UnsupportedOperation", 400, true};
    case SqsError::kInvalidAction: return {"InvalidAction", "InvalidAction", 400, true};
    case SqsError::kInvalidQueryParameter: return {"InvalidQueryParameter", "InvalidQueryParameter", 400, true};
    case SqsError::kOverLimit: return {"OverLimit", "OverLimit", 403, true};
    case SqsError::kNone: break;
  }
  switch (s.code()) {
    case Code::kInvalidParameter:
    case Code::kValidation: return {"InvalidParameterValue", "InvalidParameterValueException", 400, true};
    case Code::kNotFound: return {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", 400, true};
    case Code::kTooLarge: return {"RequestEntityTooLarge", "RequestEntityTooLarge", 413, true};
    case Code::kUnknownOperation: return {"InvalidAction", "InvalidAction", 400, true};
    default: return {"InternalError", "InternalError", 500, false};
  }
}

// Client input echoed in an error message: XML and JSON must stay well formed.
std::string printable(std::string_view s) {
  std::string out(s.substr(0, 256));
  for (char& c : out)
    if (c < 0x20 || c > 0x7E) c = '?';
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\r': out += "&#xD;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string json_string(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

Response error_response(Protocol p, const Status& s, const std::string& request_id) {
  const WireError e = wire_error(s);
  Response r;
  r.status = e.status;
  if (p == Protocol::kJson) {
    Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("__type", Value(std::string("com.amazonaws.sqs#") + e.json_type, a), a);
    d.AddMember("message", Value(s.message(), a), a);
    r.content_type = "application/x-amz-json-1.0";
    r.headers.emplace_back("x-amzn-query-error", std::string(e.query_code) + (e.sender_fault ? ";Sender" : ";Receiver"));
    r.body = json_string(d);
  } else {
    r.content_type = "text/xml";
    r.body = std::string("<?xml version=\"1.0\"?><ErrorResponse xmlns=\"") + kXmlNs + "\"><Error><Type>" +
             (e.sender_fault ? "Sender" : "Receiver") + "</Type><Code>" + e.query_code + "</Code><Message>" +
             xml_escape(s.message()) + "</Message><Detail/></Error><RequestId>" + request_id +
             "</RequestId></ErrorResponse>";
  }
  return r;
}

// ---- query protocol: flat Key.1.Sub=value pairs into the JSON protocol's shape -------

struct Node {
  std::string value;
  bool has_value = false;
  std::map<std::string, Node> children;
};

bool is_index(std::string_view s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos; }

void insert_path(Node& root, std::string_view key, const std::string& value) {
  Node* n = &root;
  while (true) {
    const auto dot = key.find('.');
    std::string seg(key.substr(0, dot));
    if (is_index(seg)) seg = std::string(10 - std::min<std::size_t>(seg.size(), 10), '0') + seg;  // numeric order
    n = &n->children[seg];
    if (dot == std::string_view::npos) break;
    key.remove_prefix(dot + 1);
  }
  n->value = value;
  n->has_value = true;
}

Value to_json(const Node& n, Alloc& a);

bool all_indexed(const Node& n) {
  if (n.children.empty()) return false;
  for (const auto& [k, _] : n.children)
    if (!is_index(k)) return false;
  return true;
}

// {"1": {Name, Value}, ...} -> {Name: Value}
Value pairs_to_map(const Node& list, const char* key_name, const char* value_name, Alloc& a) {
  Value out(rapidjson::kObjectType);
  for (const auto& [_, entry] : list.children) {
    auto k = entry.children.find(key_name);
    auto v = entry.children.find(value_name);
    if (k == entry.children.end()) continue;
    Value val = v == entry.children.end() ? Value("", a) : to_json(v->second, a);
    Value name(k->second.value, a);
    if (out.HasMember(name)) out[name] = val;
    else out.AddMember(name, val, a);
  }
  return out;
}

Value to_json(const Node& n, Alloc& a) {
  if (n.children.empty()) return Value(n.value, a);
  if (all_indexed(n)) {
    Value arr(rapidjson::kArrayType);
    for (const auto& [_, c] : n.children) arr.PushBack(to_json(c, a), a);
    return arr;
  }
  Value obj(rapidjson::kObjectType);
  for (const auto& [k, c] : n.children) {
    std::string name = k;
    Value v;
    if (k == "Attribute") {
      name = "Attributes";
      v = pairs_to_map(c, "Name", "Value", a);
    } else if (k == "MessageAttribute" || k == "MessageSystemAttribute") {
      name = k + "s";
      v = pairs_to_map(c, "Name", "Value", a);
    } else if (k == "Tag") {
      name = "Tags";
      v = pairs_to_map(c, "Key", "Value", a);
    } else if (k == "AttributeName" || k == "MessageAttributeName" || k == "MessageSystemAttributeName" ||
               k == "TagKey") {
      name = k + "s";
      v = to_json(c, a);
      if (!v.IsArray()) {
        Value arr(rapidjson::kArrayType);
        arr.PushBack(v, a);
        v = arr;
      }
    } else if (std::string_view(k).ends_with("RequestEntry")) {
      name = "Entries";
      v = to_json(c, a);
    } else {
      v = to_json(c, a);
    }
    obj.AddMember(Value(name, a), v, a);
  }
  return obj;
}

// ---- typed access to the request document ----------------------------------------------

Status missing(const char* name) {
  return storage::sqs_error(SqsError::kMissingParameter, std::string("The request must contain the parameter ") + name + ".");
}

std::optional<std::string> str(const Value& o, const char* name) {
  auto it = o.FindMember(name);
  if (it == o.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

Result<std::optional<long long>> integer(const Value& o, const char* name) {
  auto it = o.FindMember(name);
  if (it == o.MemberEnd() || it->value.IsNull()) return std::optional<long long>{};
  if (it->value.IsInt64()) return std::optional<long long>{it->value.GetInt64()};
  if (it->value.IsString()) {
    std::string_view s(it->value.GetString(), it->value.GetStringLength());
    long long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) return std::optional<long long>{v};
  }
  return storage::sqs_error(SqsError::kInvalidParameterValue,
                            std::string("Value for parameter ") + name + " is invalid. Reason: must be an integer.");
}

std::vector<std::string> str_list(const Value& o, const char* name) {
  std::vector<std::string> out;
  auto it = o.FindMember(name);
  if (it == o.MemberEnd()) return out;
  if (it->value.IsString()) out.emplace_back(it->value.GetString());
  if (it->value.IsArray())
    for (const auto& v : it->value.GetArray())
      if (v.IsString()) out.emplace_back(v.GetString(), v.GetStringLength());
  return out;
}

Result<std::map<std::string, std::string>> str_map(const Value& o, const char* name) {
  std::map<std::string, std::string> out;
  auto it = o.FindMember(name);
  if (it == o.MemberEnd() || it->value.IsNull()) return out;
  if (!it->value.IsObject())
    return storage::sqs_error(SqsError::kInvalidParameterValue, std::string(name) + " must be a map of strings.");
  for (const auto& m : it->value.GetObject()) {
    if (!m.value.IsString())
      return storage::sqs_error(SqsError::kInvalidParameterValue, std::string(name) + " must be a map of strings.");
    out.emplace(m.name.GetString(), std::string(m.value.GetString(), m.value.GetStringLength()));
  }
  return out;
}

Result<std::vector<storage::MessageAttribute>> message_attributes(const Value& o, const char* name) {
  std::vector<storage::MessageAttribute> out;
  auto it = o.FindMember(name);
  if (it == o.MemberEnd() || it->value.IsNull()) return out;
  if (!it->value.IsObject())
    return storage::sqs_error(SqsError::kInvalidParameterValue, std::string(name) + " must be a map.");
  for (const auto& m : it->value.GetObject()) {
    storage::MessageAttribute a;
    a.name.assign(m.name.GetString(), m.name.GetStringLength());
    if (!m.value.IsObject())
      return storage::sqs_error(SqsError::kInvalidParameterValue, "Message attribute '" + printable(a.name) + "' is invalid.");
    auto dt = str(m.value, "DataType");
    if (!dt || dt->empty())
      return storage::sqs_error(SqsError::kInvalidParameterValue,
                                "The message attribute '" + printable(a.name) + "' must contain non-empty message attribute type.");
    a.data_type = *dt;
    if (auto b = str(m.value, "BinaryValue")) {
      auto raw = base64_decode(*b);
      if (!raw)
        return storage::sqs_error(SqsError::kInvalidParameterValue,
                                  "The binary value of message attribute '" + printable(a.name) + "' is not valid base64.");
      a.value = *raw;
      a.binary = true;
    } else if (auto s = str(m.value, "StringValue")) {
      a.value = *s;
    }
    if (a.binary ? a.value.empty() && !m.value.HasMember("BinaryValue") : !m.value.HasMember("StringValue")) {
      const bool binary_type = a.data_type.starts_with("Binary");
      return storage::sqs_error(SqsError::kInvalidParameterValue,
                                "The message attribute '" + printable(a.name) + "' must contain non-empty message attribute value for message attribute type '" +
                                    (binary_type ? "Binary" : printable(a.data_type.substr(0, a.data_type.find('.')))) + "'.");
    }
    out.push_back(std::move(a));
  }
  return out;
}

// The queue name from a QueueUrl (http://host/ACCOUNT/NAME), checked against our account.
Result<std::string> queue_name_from_url(const std::string& url, const std::string& account) {
  std::string_view u = url;
  if (auto scheme = u.find("://"); scheme != std::string_view::npos) {
    u.remove_prefix(scheme + 3);
    const auto slash = u.find('/');
    if (slash == std::string_view::npos) u = {};
    else u.remove_prefix(slash);
  }
  while (!u.empty() && u.back() == '/') u.remove_suffix(1);
  const auto last = u.rfind('/');
  if (last == std::string_view::npos || last + 1 >= u.size())
    return storage::sqs_error(SqsError::kNonExistentQueue, "The specified queue does not exist.");
  std::string name(u.substr(last + 1));
  std::string_view prefix = u.substr(0, last);
  const auto acct_start = prefix.rfind('/');
  std::string acct(prefix.substr(acct_start == std::string_view::npos ? 0 : acct_start + 1));
  if (!acct.empty() && acct != account && acct != "queue")
    return storage::sqs_error(SqsError::kNonExistentQueue, "The specified queue does not exist.");
  return name;
}

bool valid_batch_id(const std::string& id) {
  if (id.empty() || id.size() > 80) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  return true;
}

// Checks the Entries of a batch call: present, at most 10, distinct valid ids.
Result<const Value*> batch_entries(const Value& in, const char* entry_shape) {
  auto it = in.FindMember("Entries");
  if (it == in.MemberEnd() || !it->value.IsArray() || it->value.Empty())
    return storage::sqs_error(SqsError::kEmptyBatchRequest,
                              std::string("There should be at least one ") + entry_shape + " in the request.");
  if (it->value.Size() > 10)
    return storage::sqs_error(SqsError::kTooManyEntriesInBatchRequest,
                              "Maximum number of entries per request are 10. You have sent " +
                                  std::to_string(it->value.Size()) + ".");
  std::set<std::string> ids;
  for (const auto& e : it->value.GetArray()) {
    auto id = e.IsObject() ? str(e, "Id") : std::nullopt;
    if (!id || !valid_batch_id(*id))
      return storage::sqs_error(SqsError::kInvalidBatchEntryId,
                                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It "
                                "can be at most 80 letters long.");
    if (!ids.insert(*id).second)
      return storage::sqs_error(SqsError::kBatchEntryIdsNotDistinct, "Id " + *id + " repeated.");
  }
  return &it->value;
}

void add_failure(Value& failed, const std::string& id, const Status& s, Alloc& a) {
  Value f(rapidjson::kObjectType);
  f.AddMember("Id", Value(id, a), a);
  f.AddMember("SenderFault", wire_error(s).sender_fault, a);
  f.AddMember("Code", Value(wire_error(s).query_code, a), a);
  f.AddMember("Message", Value(s.message(), a), a);
  failed.PushBack(f, a);
}

// ---- XML output for the query protocol --------------------------------------------------

void write_xml(std::string& out, const std::string& op, const char* key, const Value& v);

void write_xml_value(std::string& out, const std::string& op, const Value& v) {
  if (v.IsString()) out += xml_escape(std::string_view(v.GetString(), v.GetStringLength()));
  else if (v.IsBool()) out += v.GetBool() ? "true" : "false";
  else if (v.IsInt64()) out += std::to_string(v.GetInt64());
  else if (v.IsObject())
    for (const auto& m : v.GetObject()) write_xml(out, op, m.name.GetString(), m.value);
}

void write_xml(std::string& out, const std::string& op, const char* key, const Value& v) {
  const std::string_view k = key;
  auto element = [&](std::string_view name, const Value& inner) {
    out.append("<").append(name).append(">");
    write_xml_value(out, op, inner);
    out.append("</").append(name).append(">");
  };
  if (k == "Attributes" && v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      out += "<Attribute><Name>" + xml_escape(m.name.GetString()) + "</Name><Value>";
      write_xml_value(out, op, m.value);
      out += "</Value></Attribute>";
    }
  } else if (k == "MessageAttributes" && v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      out += "<MessageAttribute><Name>" + xml_escape(m.name.GetString()) + "</Name><Value>";
      write_xml_value(out, op, m.value);
      out += "</Value></MessageAttribute>";
    }
  } else if (k == "Tags" && v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      out += "<Tag><Key>" + xml_escape(m.name.GetString()) + "</Key><Value>";
      write_xml_value(out, op, m.value);
      out += "</Value></Tag>";
    }
  } else if (v.IsArray()) {
    std::string item = "member";
    if (k == "QueueUrls") item = "QueueUrl";
    else if (k == "Messages") item = "Message";
    else if (k == "Successful") item = op + "ResultEntry";
    else if (k == "Failed") item = "BatchResultErrorEntry";
    for (const auto& e : v.GetArray()) element(item, e);
  } else {
    element(k, v);
  }
}

Response ok_response(Protocol p, const std::string& op, const Value& out, const std::string& request_id) {
  Response r;
  if (p == Protocol::kJson) {
    r.content_type = "application/x-amz-json-1.0";
    r.body = json_string(out);
    return r;
  }
  r.content_type = "text/xml";
  std::string body = "<?xml version=\"1.0\"?><" + op + "Response xmlns=\"" + kXmlNs + "\">";
  if (out.IsObject() && out.MemberCount() > 0) {
    body += "<" + op + "Result>";
    for (const auto& m : out.GetObject()) write_xml(body, op, m.name.GetString(), m.value);
    body += "</" + op + "Result>";
  } else if (op == "ReceiveMessage" || op == "ListQueues" || op == "GetQueueAttributes" || op == "ListQueueTags") {
    body += "<" + op + "Result/>";
  }
  body += "<ResponseMetadata><RequestId>" + request_id + "</RequestId></ResponseMetadata></" + op + "Response>";
  r.body = std::move(body);
  return r;
}

bool wants(const std::vector<std::string>& names, std::string_view attr) {
  for (const auto& n : names)
    if (n == "All" || n == attr) return true;
  return false;
}

bool wants_message_attribute(const std::vector<std::string>& names, const std::string& attr) {
  for (const auto& n : names) {
    if (n == "All" || n == ".*" || n == attr) return true;
    if (n.size() > 2 && n.ends_with(".*") && attr.starts_with(n.substr(0, n.size() - 1))) return true;
  }
  return false;
}

Value message_json(const storage::Received& r, const std::vector<std::string>& attr_names,
                   const std::vector<std::string>& msg_attr_names, Alloc& a) {
  const storage::SqsMessage& m = r.message;
  Value v(rapidjson::kObjectType);
  v.AddMember("MessageId", Value(m.message_id, a), a);
  v.AddMember("ReceiptHandle", Value(r.receipt_handle, a), a);
  v.AddMember("MD5OfBody", Value(m.md5_body, a), a);
  v.AddMember("Body", Value(m.body, a), a);
  Value attrs(rapidjson::kObjectType);
  auto add = [&](const char* name, const std::string& val) {
    if (wants(attr_names, name)) attrs.AddMember(Value(name, a), Value(val, a), a);
  };
  add("SenderId", m.sender_id);
  add("SentTimestamp", std::to_string(m.sent_ms));
  add("ApproximateReceiveCount", std::to_string(m.receive_count));
  add("ApproximateFirstReceiveTimestamp", std::to_string(m.first_receive_ms));
  if (!m.sequence_number.empty()) add("SequenceNumber", m.sequence_number);
  if (!m.dedup_id.empty()) add("MessageDeduplicationId", m.dedup_id);
  if (!m.group_id.empty()) add("MessageGroupId", m.group_id);
  if (!m.trace_header.empty()) add("AWSTraceHeader", m.trace_header);
  if (!m.dlq_source_arn.empty()) add("DeadLetterQueueSourceArn", m.dlq_source_arn);
  if (attrs.MemberCount() > 0) v.AddMember("Attributes", attrs, a);
  std::vector<storage::MessageAttribute> returned;
  for (const auto& ma : m.attributes)
    if (wants_message_attribute(msg_attr_names, ma.name)) returned.push_back(ma);
  if (!m.attributes.empty())
    v.AddMember("MD5OfMessageAttributes",
                Value(returned.empty() ? m.md5_attributes : storage::md5_of_attributes(returned), a), a);
  if (!returned.empty()) {
    Value mattrs(rapidjson::kObjectType);
    for (const auto& ma : returned) {
      Value e(rapidjson::kObjectType);
      if (ma.binary) e.AddMember("BinaryValue", Value(base64_encode(ma.value), a), a);
      else e.AddMember("StringValue", Value(ma.value, a), a);
      e.AddMember("DataType", Value(ma.data_type, a), a);
      mattrs.AddMember(Value(ma.name, a), e, a);
    }
    v.AddMember("MessageAttributes", mattrs, a);
  }
  return v;
}

std::string sender_id_of(const Request& req) {
  std::string_view auth = req.header("authorization");
  const auto pos = auth.find("Credential=");
  if (pos == std::string_view::npos) return "AIDAESMDLOCALSENDER01";
  std::string_view cred = auth.substr(pos + 11);
  return std::string(cred.substr(0, cred.find('/')));
}

Result<storage::SendInput> send_input(const Value& e, const std::string& sender) {
  storage::SendInput in;
  auto body = str(e, "MessageBody");
  if (!body) return missing("MessageBody");
  in.body = *body;
  auto delay = integer(e, "DelaySeconds");
  if (!delay) return delay.status();
  if (*delay) in.delay_s = static_cast<int>(**delay);
  auto attrs = message_attributes(e, "MessageAttributes");
  if (!attrs) return attrs.status();
  in.attributes = std::move(*attrs);
  auto sys = message_attributes(e, "MessageSystemAttributes");
  if (!sys) return sys.status();
  for (const auto& s : *sys) {
    if (s.name != "AWSTraceHeader")
      return storage::sqs_error(SqsError::kInvalidParameterValue,
                                "Message system attribute name '" + printable(s.name) + "' is invalid.");
    in.trace_header = s.value;
  }
  in.group_id = str(e, "MessageGroupId").value_or("");
  in.dedup_id = str(e, "MessageDeduplicationId").value_or("");
  in.sender_id = sender;
  return in;
}

Value send_result_json(const storage::SendResult& r, Alloc& a) {
  Value v(rapidjson::kObjectType);
  v.AddMember("MD5OfMessageBody", Value(r.md5_body, a), a);
  if (!r.md5_attributes.empty()) v.AddMember("MD5OfMessageAttributes", Value(r.md5_attributes, a), a);
  if (!r.md5_system_attributes.empty())
    v.AddMember("MD5OfMessageSystemAttributes", Value(r.md5_system_attributes, a), a);
  v.AddMember("MessageId", Value(r.message_id, a), a);
  if (!r.sequence_number.empty()) v.AddMember("SequenceNumber", Value(r.sequence_number, a), a);
  return v;
}

}  // namespace

bool SqsApi::matches(const Request& req) {
  if (req.header("x-amz-target").starts_with("AmazonSQS.")) return true;
  if (req.query_param("Action")) return true;
  if (req.method == "POST" && req.header("content-type").starts_with("application/x-www-form-urlencoded"))
    return req.body.starts_with("Action=") || req.body.find("&Action=") != std::string::npos;
  return false;
}

void SqsApi::handle(Request req, Reply reply) {
  Protocol protocol = Protocol::kJson;
  std::string op;
  auto in = std::make_shared<Document>();
  if (auto target = req.header("x-amz-target"); target.starts_with("AmazonSQS.")) {
    op = std::string(target.substr(10));
    if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) {
      in->SetObject();
    } else {
      if (json_depth_within(req.body)) in->Parse(req.body.c_str(), req.body.size());
      if (!json_depth_within(req.body) || in->HasParseError() || !in->IsObject())
        return reply(error_response(protocol,
                                    storage::sqs_error(SqsError::kInvalidParameterValue,
                                                       "The request body is not a valid JSON object."),
                                    req.request_id));
    }
  } else {
    protocol = Protocol::kQuery;
    Node root;
    for (const auto& [k, v] : req.query) insert_path(root, k, v);
    if (req.method == "POST") {
      Request form;
      form.target = "/?" + req.body;
      split_target(form);
      for (const auto& [k, v] : form.query) insert_path(root, k, v);
    }
    Value v = to_json(root, in->GetAllocator());
    if (!v.IsObject()) v.SetObject();
    in->CopyFrom(v, in->GetAllocator());
    op = str(*in, "Action").value_or("");
    // Older SDKs post to the queue URL itself.
    if (!in->HasMember("QueueUrl") && req.path.size() > 1 && std::count(req.path.begin(), req.path.end(), '/') >= 2)
      in->AddMember("QueueUrl", Value(req.path, in->GetAllocator()), in->GetAllocator());
  }
  std::string host(req.header("host"));
  if (host.empty()) host = "localhost";
  const std::string sender = sender_id_of(req);
  const std::string region = req.region;
  const std::string request_id = req.request_id;

  static const std::set<std::string> kOps = {
      "CreateQueue", "GetQueueUrl", "ListQueues", "DeleteQueue", "GetQueueAttributes", "SetQueueAttributes",
      "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
      "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "PurgeQueue", "TagQueue", "UntagQueue",
      "ListQueueTags"};
  if (!kOps.count(op)) {
    Status s = storage::sqs_error(SqsError::kInvalidAction,
                                  op.empty() ? "The request must contain the parameter Action."
                                             : "The action " + printable(op) + " is not valid for this endpoint.");
    return reply(error_response(protocol, s, request_id));
  }
  spdlog::debug("sqs {} ({})", op, protocol == Protocol::kJson ? "json" : "query");

  db_.submit([this, protocol, op, in, host, sender, region, request_id, reply](storage::Connection& c) mutable
             -> storage::DbWorker::Done {
    const std::int64_t now = clock_.now_ms();
    Document out(rapidjson::kObjectType);
    auto& a = out.GetAllocator();
    auto fail = [&](const Status& s) -> storage::DbWorker::Done {
      return [reply, r = error_response(protocol, s, request_id)](const Status&) { reply(r); };
    };
    auto url_of = [&](const storage::Queue& q) { return "http://" + host + "/" + q.account + "/" + q.name; };
    auto resolve = [&]() -> Result<storage::Queue*> {
      auto url = str(*in, "QueueUrl");
      if (!url) return missing("QueueUrl");
      auto name = queue_name_from_url(*url, account_);
      if (!name) return name.status();
      return queues_.find(region, *name);
    };

    if (op == "CreateQueue") {
      auto name = str(*in, "QueueName");
      if (!name) return fail(missing("QueueName"));
      auto attrs = str_map(*in, "Attributes");
      if (!attrs) return fail(attrs.status());
      auto tags = str_map(*in, in->HasMember("tags") ? "tags" : "Tags");
      if (!tags) return fail(tags.status());
      auto q = queues_.create_queue(c, region, *name, *attrs, *tags, now);
      if (!q) return fail(q.status());
      out.AddMember("QueueUrl", Value(url_of(**q), a), a);
    } else if (op == "GetQueueUrl") {
      auto name = str(*in, "QueueName");
      if (!name) return fail(missing("QueueName"));
      if (auto owner = str(*in, "QueueOwnerAWSAccountId"); owner && *owner != account_)
        return fail(storage::sqs_error(SqsError::kNonExistentQueue, "The specified queue does not exist."));
      auto q = queues_.find(region, *name);
      if (!q) return fail(q.status());
      out.AddMember("QueueUrl", Value(url_of(**q), a), a);
    } else if (op == "ListQueues") {
      auto max = integer(*in, "MaxResults");
      if (!max) return fail(max.status());
      if (*max && (**max < 1 || **max > 1000))
        return fail(storage::sqs_error(SqsError::kInvalidParameterValue,
                                       "Value for parameter MaxResults is invalid. Reason: MaxResults must be an "
                                       "integer between 1 and 1000."));
      std::string after;
      if (auto token = str(*in, "NextToken"); token && !token->empty()) {
        auto raw = base64_decode(*token);
        if (!raw) return fail(storage::sqs_error(SqsError::kInvalidParameterValue, "Invalid NextToken value."));
        after = *raw;
      }
      Value urls(rapidjson::kArrayType);
      const auto queues = queues_.list(region, str(*in, "QueueNamePrefix").value_or(""));
      const long long limit = max->value_or(1000);
      std::string last;
      bool more = false;
      for (const auto* q : queues) {
        if (!after.empty() && q->name <= after) continue;
        if (static_cast<long long>(urls.Size()) >= limit) {
          more = true;
          break;
        }
        urls.PushBack(Value(url_of(*q), a), a);
        last = q->name;
      }
      if (urls.Size() > 0 || protocol == Protocol::kQuery) out.AddMember("QueueUrls", urls, a);
      if (more && *max) out.AddMember("NextToken", Value(base64_encode(last), a), a);
    } else {
      auto qr = resolve();
      if (!qr) return fail(qr.status());
      storage::Queue& q = **qr;
      if (op == "DeleteQueue") {
        if (Status s = queues_.delete_queue(c, q); !s.is_ok()) return fail(s);
      } else if (op == "GetQueueAttributes") {
        auto names = str_list(*in, "AttributeNames");
        auto attrs = queues_.get_attributes(q, names, now);
        if (!attrs) return fail(attrs.status());
        if (!attrs->empty()) {
          Value m(rapidjson::kObjectType);
          for (const auto& [k, v] : *attrs) m.AddMember(Value(k, a), Value(v, a), a);
          out.AddMember("Attributes", m, a);
        }
      } else if (op == "SetQueueAttributes") {
        auto attrs = str_map(*in, "Attributes");
        if (!attrs) return fail(attrs.status());
        if (Status s = queues_.set_attributes(c, q, *attrs, now); !s.is_ok()) return fail(s);
      } else if (op == "SendMessage") {
        auto input = send_input(*in, sender);
        if (!input) return fail(input.status());
        auto r = queues_.send(c, q, std::move(*input), now);
        if (!r) return fail(r.status());
        out.CopyFrom(send_result_json(*r, a), a);
      } else if (op == "SendMessageBatch") {
        auto entries = batch_entries(*in, "SendMessageBatchRequestEntry");
        if (!entries) return fail(entries.status());
        // The limit is on the whole batch, bodies and attributes, whatever the queue's
        // MaximumMessageSize.
        std::size_t total = 0;
        for (const auto& e : (*entries)->GetArray()) {
          if (auto input = send_input(e, sender)) total += storage::message_size(*input);
        }
        if (total > storage::kMaxBatchPayload)
          return fail(storage::sqs_error(SqsError::kBatchRequestTooLong,
                                         "Batch requests cannot be longer than " +
                                             std::to_string(storage::kMaxBatchPayload) + " bytes. You have sent " +
                                             std::to_string(total) + " bytes."));
        Value ok(rapidjson::kArrayType), failed(rapidjson::kArrayType);
        for (const auto& e : (*entries)->GetArray()) {
          const std::string id = *str(e, "Id");
          auto input = send_input(e, sender);
          Result<storage::SendResult> r = input ? queues_.send(c, q, std::move(*input), now)
                                                : Result<storage::SendResult>(input.status());
          if (!r) {
            add_failure(failed, id, r.status(), a);
            continue;
          }
          Value v = send_result_json(*r, a);
          v.AddMember("Id", Value(id, a), a);
          ok.PushBack(v, a);
        }
        out.AddMember("Successful", ok, a);
        out.AddMember("Failed", failed, a);
      } else if (op == "ReceiveMessage") {
        storage::ReceiveOptions opt;
        auto max = integer(*in, "MaxNumberOfMessages");
        if (!max) return fail(max.status());
        if (*max && (**max < 1 || **max > 10))
          return fail(storage::sqs_error(SqsError::kInvalidParameterValue,
                                         "Value " + std::to_string(**max) +
                                             " for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 "
                                             "and 10, if provided."));
        opt.max_messages = static_cast<int>(max->value_or(1));
        auto vt = integer(*in, "VisibilityTimeout");
        if (!vt) return fail(vt.status());
        if (*vt) {
          if (**vt < 0 || **vt > 43200)
            return fail(storage::sqs_error(SqsError::kInvalidParameterValue,
                                           "Value " + std::to_string(**vt) +
                                               " for parameter VisibilityTimeout is invalid. Reason: Must be between 0 "
                                               "and 43200, if provided."));
          opt.visibility_timeout_s = static_cast<int>(**vt);
        }
        auto wait = integer(*in, "WaitTimeSeconds");
        if (!wait) return fail(wait.status());
        const long long wait_s = wait->value_or(q.receive_wait_s);
        if (wait_s < 0 || wait_s > 20)
          return fail(storage::sqs_error(SqsError::kInvalidParameterValue,
                                         "Value " + std::to_string(wait_s) +
                                             " for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= "
                                             "20, if provided."));
        opt.wait_ms = wait_s * 1000;
        std::vector<std::string> attr_names = str_list(*in, "AttributeNames");
        for (auto& n : str_list(*in, "MessageSystemAttributeNames")) attr_names.push_back(n);
        std::vector<std::string> msg_attr_names = str_list(*in, "MessageAttributeNames");
        queues_.receive(c, q, opt, now,
                        [protocol, op, reply, request_id, attr_names, msg_attr_names](
                            Result<std::vector<storage::Received>> got) {
                          if (!got) return reply(error_response(protocol, got.status(), request_id));
                          Document doc(rapidjson::kObjectType);
                          auto& al = doc.GetAllocator();
                          if (!got->empty()) {
                            Value msgs(rapidjson::kArrayType);
                            for (const auto& r : *got) msgs.PushBack(message_json(r, attr_names, msg_attr_names, al), al);
                            doc.AddMember("Messages", msgs, al);
                          }
                          reply(ok_response(protocol, op, doc, request_id));
                        });
        return nullptr;
      } else if (op == "DeleteMessage") {
        auto handle = str(*in, "ReceiptHandle");
        if (!handle) return fail(missing("ReceiptHandle"));
        if (Status s = queues_.delete_message(c, q, *handle); !s.is_ok()) return fail(s);
      } else if (op == "DeleteMessageBatch" || op == "ChangeMessageVisibilityBatch") {
        const bool del = op == "DeleteMessageBatch";
        auto entries = batch_entries(*in, del ? "DeleteMessageBatchRequestEntry" : "ChangeMessageVisibilityBatchRequestEntry");
        if (!entries) return fail(entries.status());
        Value ok(rapidjson::kArrayType), failed(rapidjson::kArrayType);
        for (const auto& e : (*entries)->GetArray()) {
          const std::string id = *str(e, "Id");
          auto handle = str(e, "ReceiptHandle");
          Status s = handle ? Status::ok() : missing("ReceiptHandle");
          if (s.is_ok() && del) s = queues_.delete_message(c, q, *handle);
          if (s.is_ok() && !del) {
            auto vt = integer(e, "VisibilityTimeout");
            if (!vt) s = vt.status();
            else if (!*vt) s = missing("VisibilityTimeout");
            else s = queues_.change_visibility(c, q, *handle, static_cast<int>(**vt), now);
          }
          if (!s.is_ok()) {
            add_failure(failed, id, s, a);
            continue;
          }
          Value v(rapidjson::kObjectType);
          v.AddMember("Id", Value(id, a), a);
          ok.PushBack(v, a);
        }
        out.AddMember("Successful", ok, a);
        out.AddMember("Failed", failed, a);
      } else if (op == "ChangeMessageVisibility") {
        auto handle = str(*in, "ReceiptHandle");
        if (!handle) return fail(missing("ReceiptHandle"));
        auto vt = integer(*in, "VisibilityTimeout");
        if (!vt) return fail(vt.status());
        if (!*vt) return fail(missing("VisibilityTimeout"));
        if (Status s = queues_.change_visibility(c, q, *handle, static_cast<int>(**vt), now); !s.is_ok()) return fail(s);
      } else if (op == "PurgeQueue") {
        if (Status s = queues_.purge(c, q); !s.is_ok()) return fail(s);
      } else if (op == "TagQueue") {
        auto tags = str_map(*in, "Tags");
        if (!tags) return fail(tags.status());
        if (Status s = queues_.tag(c, q, *tags); !s.is_ok()) return fail(s);
      } else if (op == "UntagQueue") {
        if (Status s = queues_.untag(c, q, str_list(*in, "TagKeys")); !s.is_ok()) return fail(s);
      } else if (op == "ListQueueTags") {
        if (!q.tags.empty()) {
          Value m(rapidjson::kObjectType);
          for (const auto& [k, v] : q.tags) m.AddMember(Value(k, a), Value(v, a), a);
          out.AddMember("Tags", m, a);
        }
      }
    }
    auto resp = std::make_shared<Response>(ok_response(protocol, op, out, request_id));
    return [reply, resp, protocol, request_id](const Status& commit) {
      if (!commit.is_ok()) return reply(error_response(protocol, internal_error("The change could not be saved."), request_id));
      reply(std::move(*resp));
    };
  }, [reply, protocol, request_id](const Status& s) { reply(error_response(protocol, s, request_id)); });
}

}  // namespace esm::api
