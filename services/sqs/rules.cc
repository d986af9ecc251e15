#include "services/sqs/rules.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "core/codec.h"

namespace esm::sqs {
namespace {

struct IntRule {
  const char* name;
  long long lo;
  long long hi;
};
constexpr IntRule kIntAttributes[] = {
    {"VisibilityTimeout", 0, kMaxVisibilityTimeoutS}, {"MaximumMessageSize", 1024, 1048576},
    {"MessageRetentionPeriod", 60, 1209600},          {"DelaySeconds", 0, 900},
    {"ReceiveMessageWaitTimeSeconds", 0, 20},         {"KmsDataKeyReusePeriodSeconds", 60, 86400},
};
constexpr const char* kOtherAttributes[] = {"Policy", "RedrivePolicy", "FifoQueue", "ContentBasedDeduplication",
                                            "KmsMasterKeyId", "DeduplicationScope", "FifoThroughputLimit",
                                            "RedriveAllowPolicy", "SqsManagedSseEnabled"};

std::optional<long long> to_int(const std::string& s) {
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Error invalid_value(const std::string& name) { return Error{ErrorKind::kInvalidAttributeValue, name}; }

// maxReceiveCount as a number or a numeric string; 0 when neither.
long long max_receive_count_of(const rapidjson::Value& v) {
  if (v.IsInt64()) return v.GetInt64();
  if (v.IsString()) return to_int(v.GetString()).value_or(0);
  return 0;
}

Expected<void, Error> check_redrive_policy(const std::string& value) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(value.c_str(), value.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("deadLetterTargetArn") ||
      !d["deadLetterTargetArn"].IsString() || !d.HasMember("maxReceiveCount"))
    return invalid_value("RedrivePolicy");
  const long long count = max_receive_count_of(d["maxReceiveCount"]);
  if (count < 1 || count > 1000) return invalid_value("RedrivePolicy");
  return {};
}

// SQS: alphanumerics, '_', '-' and '.', no leading, trailing or doubled '.', no AWS./Amazon. prefix.
bool valid_attribute_name(std::string_view n) {
  if (n.empty() || n.size() > 256 || n.front() == '.' || n.back() == '.' || n.find("..") != std::string_view::npos)
    return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
      return false;
  auto lower_starts = [&](std::string_view prefix) {
    if (n.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(n[i])) != prefix[i]) return false;
    return true;
  };
  return !lower_starts("aws.") && !lower_starts("amazon.");
}

// "String", "Number" or "Binary", optionally followed by ".label".
std::string_view base_type(std::string_view data_type) {
  for (std::string_view t : {"String", "Number", "Binary"})
    if (data_type == t || (data_type.starts_with(t) && data_type[t.size()] == '.' && data_type.size() > t.size() + 1))
      return t;
  return {};
}

// A decimal number as SQS accepts it: sign, digits with an optional point, optional exponent.
bool valid_number(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  std::size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t exp = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp;
    if (exp == 0) return false;
  }
  return i == s.size();
}

// MessageGroupId and MessageDeduplicationId: 1 to 128 alphanumeric or punctuation characters.
bool valid_fifo_token(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (c < 0x21 || c > 0x7E) return false;
  return true;
}

Expected<void, Error> check_message_attributes(const std::vector<MessageAttribute>& attributes) {
  if (attributes.size() > 10)
    return Error{ErrorKind::kTooManyMessageAttributes, {}, {}, static_cast<long long>(attributes.size()), 0, 10};
  for (const auto& a : attributes) {
    if (!valid_attribute_name(a.name)) return Error{ErrorKind::kInvalidMessageAttributeName, a.name};
    const std::string_view type = base_type(a.data_type);
    if (type.empty() || a.data_type.size() > 256 || !valid_text(a.data_type))
      return Error{ErrorKind::kInvalidMessageAttributeType, a.name};
    const bool is_binary = type == "Binary";
    if (a.binary != is_binary || a.value.empty())
      return Error{ErrorKind::kMessageAttributeValueMissing, a.name, std::string(type)};
    if (type == "Number" && !valid_number(a.value)) return Error{ErrorKind::kMessageAttributeNotNumber, a.name};
    if (!is_binary && !valid_text(a.value)) return Error{ErrorKind::kMessageAttributeInvalidText, a.name};
  }
  return {};
}

Expected<void, Error> check_fifo_parameters(const Queue& q, const SendInput& in) {
  if (q.fifo) {
    if (in.group_id.empty()) return Error{ErrorKind::kMissingParameter, "MessageGroupId"};
    if (in.delay_s && *in.delay_s != 0)
      return Error{ErrorKind::kParameterNotForQueueType, "DelaySeconds", std::to_string(*in.delay_s)};
    if (in.dedup_id.empty() && !q.content_based_dedup) return Error{ErrorKind::kMissingDeduplicationId};
  } else if (!in.dedup_id.empty()) {
    return Error{ErrorKind::kParameterNotForQueueType, "MessageDeduplicationId", in.dedup_id};
  }
  // Standard queues accept MessageGroupId (fair queues) under the same rules.
  if (!in.group_id.empty() && !valid_fifo_token(in.group_id))
    return Error{ErrorKind::kInvalidGroupOrDeduplicationId, "MessageGroupId", in.group_id};
  if (!in.dedup_id.empty() && !valid_fifo_token(in.dedup_id))
    return Error{ErrorKind::kInvalidGroupOrDeduplicationId, "MessageDeduplicationId", in.dedup_id};
  return {};
}

void put_u32(std::string& out, std::size_t n) {
  out.push_back(static_cast<char>((n >> 24) & 255));
  out.push_back(static_cast<char>((n >> 16) & 255));
  out.push_back(static_cast<char>((n >> 8) & 255));
  out.push_back(static_cast<char>(n & 255));
}

}  // namespace

bool valid_text(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp;
    int len;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      len = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      len = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      len = 4;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(len) > s.size()) return false;
    for (int j = 1; j < len; ++j) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(j)]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    i += static_cast<std::size_t>(len);
    const bool ok = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
                    (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
    if (!ok) return false;
  }
  return true;
}

bool valid_queue_name(const std::string& name, bool fifo) {
  std::string_view base = name;
  if (fifo) {
    if (!base.ends_with(".fifo")) return false;
    base.remove_suffix(5);
  }
  if (base.empty() || name.size() > 80) return false;
  for (char c : base)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  return true;
}

Expected<void, Error> check_attribute(const std::string& name, const std::string& value) {
  if (!valid_text(value)) return invalid_value(name);
  for (const auto& r : kIntAttributes) {
    if (name != r.name) continue;
    auto v = to_int(value);
    if (!v || *v < r.lo || *v > r.hi) return invalid_value(name);
    return {};
  }
  for (const char* n : kOtherAttributes) {
    if (name != n) continue;
    if ((name == "FifoQueue" || name == "ContentBasedDeduplication" || name == "SqsManagedSseEnabled") &&
        value != "true" && value != "false")
      return invalid_value(name);
    if (name == "DeduplicationScope" && value != "messageGroup" && value != "queue") return invalid_value(name);
    if (name == "FifoThroughputLimit" && value != "perQueue" && value != "perMessageGroupId")
      return invalid_value(name);
    if (name == "RedrivePolicy" && !value.empty()) return check_redrive_policy(value);
    return {};
  }
  return Error{ErrorKind::kInvalidAttributeName, name};
}

bool known_unset_attribute(const std::string& n) {
  return n == "Policy" || n == "RedrivePolicy" || n == "RedriveAllowPolicy" || n == "KmsMasterKeyId" ||
         n == "KmsDataKeyReusePeriodSeconds";
}

bool fifo_only_attribute(const std::string& n) {
  return n == "ContentBasedDeduplication" || n == "DeduplicationScope" || n == "FifoThroughputLimit";
}

void apply_attributes(Queue& q) {
  auto num = [&](const char* name, int& field, int def) {
    auto it = q.attributes.find(name);
    field = it == q.attributes.end() ? def : static_cast<int>(to_int(it->second).value_or(def));
  };
  num("VisibilityTimeout", q.visibility_timeout_s, 30);
  num("DelaySeconds", q.delay_s, 0);
  num("MessageRetentionPeriod", q.retention_s, 345600);
  num("MaximumMessageSize", q.max_message_size, static_cast<int>(kMaxBatchPayload));
  num("ReceiveMessageWaitTimeSeconds", q.receive_wait_s, 0);
  auto is = [&](const char* name, const char* value) {
    auto it = q.attributes.find(name);
    return it != q.attributes.end() && it->second == value;
  };
  q.content_based_dedup = is("ContentBasedDeduplication", "true");
  q.dedup_per_group = is("DeduplicationScope", "messageGroup");
  q.redrive.reset();
  auto it = q.attributes.find("RedrivePolicy");
  if (it == q.attributes.end() || it->second.empty()) return;
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(it->second.c_str(), it->second.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("deadLetterTargetArn") || !d["deadLetterTargetArn"].IsString() ||
      !d.HasMember("maxReceiveCount"))
    return;
  RedrivePolicy r;
  r.dead_letter_arn = d["deadLetterTargetArn"].GetString();
  r.max_receive_count = static_cast<int>(max_receive_count_of(d["maxReceiveCount"]));
  if (r.max_receive_count > 0) q.redrive = r;
}

std::map<std::string, std::string> effective_attributes(const Queue& q) {
  std::map<std::string, std::string> all = q.attributes;
  all.erase("FifoQueue");
  all["VisibilityTimeout"] = std::to_string(q.visibility_timeout_s);
  all["DelaySeconds"] = std::to_string(q.delay_s);
  all["MessageRetentionPeriod"] = std::to_string(q.retention_s);
  all["MaximumMessageSize"] = std::to_string(q.max_message_size);
  all["ReceiveMessageWaitTimeSeconds"] = std::to_string(q.receive_wait_s);
  if (!all.count("SqsManagedSseEnabled")) all["SqsManagedSseEnabled"] = "true";
  if (q.fifo) {
    all["FifoQueue"] = "true";
    if (!all.count("ContentBasedDeduplication")) all["ContentBasedDeduplication"] = "false";
    if (!all.count("DeduplicationScope")) all["DeduplicationScope"] = "queue";
    if (!all.count("FifoThroughputLimit")) all["FifoThroughputLimit"] = "perQueue";
  }
  return all;
}

std::string dead_letter_arn_of(const std::string& policy) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(policy.c_str(), policy.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("deadLetterTargetArn") || !d["deadLetterTargetArn"].IsString())
    return {};
  return d["deadLetterTargetArn"].GetString();
}

Expected<void, Error> check_tags(const std::map<std::string, std::string>& tags) {
  for (const auto& [k, v] : tags)
    if (!valid_text(k) || !valid_text(v) || k.empty()) return Error{ErrorKind::kInvalidTag};
  return {};
}

Expected<void, Error> check_message(const Queue& q, const SendInput& in) {
  if (in.body.empty()) return Error{ErrorKind::kMissingParameter, "MessageBody"};
  if (auto r = check_message_attributes(in.attributes); !r) return r.error();
  if (message_size(in) > static_cast<std::size_t>(q.max_message_size))
    return Error{ErrorKind::kMessageTooLong, {}, {}, 0, 0, q.max_message_size};
  if (!valid_text(in.body)) return Error{ErrorKind::kInvalidMessageContents};
  if (!valid_text(in.trace_header)) return Error{ErrorKind::kInvalidTraceHeader};
  if (auto r = check_fifo_parameters(q, in); !r) return r.error();
  if (in.delay_s && (*in.delay_s < 0 || *in.delay_s > 900))
    return Error{ErrorKind::kOutOfRange, "DelaySeconds", {}, *in.delay_s, 0, 900};
  return {};
}

std::size_t message_size(const SendInput& in) {
  std::size_t size = in.body.size();
  for (const auto& a : in.attributes) size += a.name.size() + a.data_type.size() + a.value.size();
  return size;
}

void fill_digests(Message& m) {
  m.md5_body = md5_hex(m.body);
  m.md5_attributes = md5_of_attributes(m.attributes);
}

std::string md5_of_attributes(const std::vector<MessageAttribute>& attributes) {
  if (attributes.empty()) return {};
  std::vector<const MessageAttribute*> sorted;
  for (const auto& a : attributes) sorted.push_back(&a);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
  std::string buf;
  for (const auto* a : sorted) {
    put_u32(buf, a->name.size());
    buf += a->name;
    put_u32(buf, a->data_type.size());
    buf += a->data_type;
    buf.push_back(a->binary ? 2 : 1);
    put_u32(buf, a->value.size());
    buf += a->value;
  }
  return md5_hex(buf);
}

std::string dedup_key_of(const Queue& q, const Message& m) { return dedup_key_of(q, m.group_id, m.dedup_id); }

std::string dedup_key_of(const Queue& q, const std::string& group_id, const std::string& dedup_id) {
  return q.dedup_per_group ? group_id + "\n" + dedup_id : dedup_id;
}

std::uint64_t message_id_hash(std::string_view message_id) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char ch : message_id) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ull;
  }
  return h;
}

std::string encode_attributes(const std::vector<MessageAttribute>& attrs) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (const auto& a : attrs) {
    w.StartArray();
    w.String(a.name);
    w.String(a.data_type);
    w.String(a.binary ? base64_encode(a.value) : a.value);
    w.Bool(a.binary);
    w.EndArray();
  }
  w.EndArray();
  return {buf.GetString(), buf.GetSize()};
}

std::optional<std::vector<MessageAttribute>> decode_attributes(const std::string& column) {
  std::vector<MessageAttribute> out;
  rapidjson::Document d;
  d.Parse(column.c_str(), column.size());
  if (d.HasParseError() || !d.IsArray()) return std::nullopt;
  for (const auto& e : d.GetArray()) {
    if (!e.IsArray() || e.Size() != 4 || !e[0].IsString() || !e[1].IsString() || !e[2].IsString() || !e[3].IsBool())
      return std::nullopt;
    MessageAttribute a;
    a.name = e[0].GetString();
    a.data_type = e[1].GetString();
    a.binary = e[3].GetBool();
    if (a.binary) {
      auto raw = base64_decode(e[2].GetString());
      if (!raw) return std::nullopt;
      a.value = std::move(*raw);
    } else {
      a.value.assign(e[2].GetString(), e[2].GetStringLength());
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace esm::sqs
