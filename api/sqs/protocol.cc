#include "api/sqs/protocol.h"

#include <algorithm>
#include <map>

#include "api/json_util.h"

namespace esm::api::sqs_wire {
namespace {

using rapidjson::Document;
using rapidjson::Value;
using Alloc = rapidjson::Document::AllocatorType;

constexpr const char* kXmlNs = "http://queue.amazonaws.com/doc/2012-11-05/";

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

// ---- query protocol: flat Key.1.Sub=value pairs into the JSON protocol's shape -------

struct Node {
  std::string value;
  bool has_value = false;
  std::map<std::string, Node> children;
};

bool is_index(std::string_view s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos; }

// The deepest key of SQS's query shapes has 7 segments
// (SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringListValue.1). The tree is
// built and walked recursively, so a key of a million dots would overflow the I/O thread's
// stack: deeper keys are ignored, as SQS ignores parameters it does not know.
constexpr std::size_t kMaxKeySegments = 16;

void insert_path(Node& root, std::string_view key, const std::string& value) {
  if (static_cast<std::size_t>(std::count(key.begin(), key.end(), '.')) >= kMaxKeySegments) return;
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

// A query member's name and value in the JSON protocol's shape (Attribute.N.Name/Value is the
// Attributes map, AttributeName.N the AttributeNames list, ...).
void add_query_member(Value& obj, const std::string& k, const Node& c, Alloc& a) {
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

Value to_json(const Node& n, Alloc& a) {
  if (n.children.empty()) return Value(n.value, a);
  if (all_indexed(n)) {
    Value arr(rapidjson::kArrayType);
    for (const auto& [_, c] : n.children) arr.PushBack(to_json(c, a), a);
    return arr;
  }
  Value obj(rapidjson::kObjectType);
  for (const auto& [k, c] : n.children) add_query_member(obj, k, c, a);
  return obj;
}

void parse_query(const Request& req, ParsedRequest& out) {
  Document& in = *out.in;
  Node root;
  for (const auto& [k, v] : req.query) insert_path(root, k, v);
  if (req.method == "POST") {
    Request form;
    form.target = "/?" + req.body;
    split_target(form);
    for (const auto& [k, v] : form.query) insert_path(root, k, v);
  }
  Value v = to_json(root, in.GetAllocator());
  if (!v.IsObject()) v.SetObject();
  in.CopyFrom(v, in.GetAllocator());
  out.op = json::string_member(in, "Action").value_or("");
  // Older SDKs post to the queue URL itself.
  if (!in.HasMember("QueueUrl") && req.path.size() > 1 && std::count(req.path.begin(), req.path.end(), '/') >= 2)
    in.AddMember("QueueUrl", Value(req.path, in.GetAllocator()), in.GetAllocator());
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

// A map member as the query protocol lists it: <Entry><Key>k</Key><Value>v</Value></Entry>.
void write_xml_map(std::string& out, const std::string& op, const Value& v, const char* entry, const char* key) {
  for (const auto& m : v.GetObject()) {
    out.append("<").append(entry).append("><").append(key).append(">");
    out += xml_escape(m.name.GetString());
    out.append("</").append(key).append("><Value>");
    write_xml_value(out, op, m.value);
    out.append("</Value></").append(entry).append(">");
  }
}

void write_xml(std::string& out, const std::string& op, const char* key, const Value& v) {
  const std::string_view k = key;
  auto element = [&](std::string_view name, const Value& inner) {
    out.append("<").append(name).append(">");
    write_xml_value(out, op, inner);
    out.append("</").append(name).append(">");
  };
  if (k == "Attributes" && v.IsObject()) {
    write_xml_map(out, op, v, "Attribute", "Name");
  } else if (k == "MessageAttributes" && v.IsObject()) {
    write_xml_map(out, op, v, "MessageAttribute", "Name");
  } else if (k == "Tags" && v.IsObject()) {
    write_xml_map(out, op, v, "Tag", "Key");
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

}  // namespace

bool parse_request(const Request& req, ParsedRequest& out, SqsFault& fault) {
  out.in = std::make_shared<Document>();
  if (auto target = req.header("x-amz-target"); target.starts_with("AmazonSQS.")) {
    out.protocol = Protocol::kJson;
    out.op = std::string(target.substr(10));
    if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) {
      out.in->SetObject();
      return true;
    }
    if (json::parse_object(*out.in, req.body)) return true;
    fault = {SqsCode::kInvalidParameterValue, "The request body is not a valid JSON object."};
    return false;
  }
  out.protocol = Protocol::kQuery;
  parse_query(req, out);
  return true;
}

Response error_response(Protocol p, const SqsFault& f, const std::string& request_id) {
  const SqsWireShape e = sqs_wire_shape(f.code);
  Response r;
  r.status = e.status;
  if (p == Protocol::kJson) {
    Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("__type", Value(std::string("com.amazonaws.sqs#") + e.json_type, a), a);
    d.AddMember("message", Value(f.message, a), a);
    r.content_type = "application/x-amz-json-1.0";
    r.headers.emplace_back("x-amzn-query-error", std::string(e.query_code) + (e.sender_fault ? ";Sender" : ";Receiver"));
    r.body = json::to_string(d);
  } else {
    r.content_type = "text/xml";
    r.body = std::string("<?xml version=\"1.0\"?><ErrorResponse xmlns=\"") + kXmlNs + "\"><Error><Type>" +
             (e.sender_fault ? "Sender" : "Receiver") + "</Type><Code>" + e.query_code + "</Code><Message>" +
             xml_escape(f.message) + "</Message><Detail/></Error><RequestId>" + request_id +
             "</RequestId></ErrorResponse>";
  }
  return r;
}

Response ok_response(Protocol p, const std::string& op, const Value& out, const std::string& request_id) {
  Response r;
  if (p == Protocol::kJson) {
    r.content_type = "application/x-amz-json-1.0";
    r.body = json::to_string(out);
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

}  // namespace esm::api::sqs_wire
