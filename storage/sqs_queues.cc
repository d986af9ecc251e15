#include "storage/sqs_queues.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <random>

#include "core/arn.h"
#include "core/codec.h"
#include "core/uuid.h"
#include "storage/json_map.h"

namespace esm::storage {
namespace {

constexpr std::int64_t kDedupWindowMs = 5 * 60 * 1000;

bool valid_sqs_text(std::string_view s);
std::string printable(std::string_view s);

struct AttrRule {
  const char* name;
  long long lo;
  long long hi;
};
constexpr AttrRule kIntAttributes[] = {
    {"VisibilityTimeout", 0, 43200},  {"MaximumMessageSize", 1024, 1048576},
    {"MessageRetentionPeriod", 60, 1209600}, {"DelaySeconds", 0, 900},
    {"ReceiveMessageWaitTimeSeconds", 0, 20}, {"KmsDataKeyReusePeriodSeconds", 60, 86400},
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

Status invalid_value(const std::string& name) {
  return sqs_error(SqsError::kInvalidAttributeValue, "Invalid value for the parameter " + name + ".");
}

Status check_attribute(const std::string& name, const std::string& value) {
  if (!valid_sqs_text(value)) return invalid_value(printable(name));
  for (const auto& r : kIntAttributes) {
    if (name != r.name) continue;
    auto v = to_int(value);
    if (!v || *v < r.lo || *v > r.hi) return invalid_value(name);
    return Status::ok();
  }
  for (const char* n : kOtherAttributes) {
    if (name != n) continue;
    if ((name == "FifoQueue" || name == "ContentBasedDeduplication" || name == "SqsManagedSseEnabled") &&
        value != "true" && value != "false")
      return invalid_value(name);
    if (name == "DeduplicationScope" && value != "messageGroup" && value != "queue") return invalid_value(name);
    if (name == "FifoThroughputLimit" && value != "perQueue" && value != "perMessageGroupId")
      return invalid_value(name);
    if (name == "RedrivePolicy" && !value.empty()) {
      rapidjson::Document d;
      d.Parse<rapidjson::kParseIterativeFlag>(value.c_str());
      if (d.HasParseError() || !d.IsObject() || !d.HasMember("deadLetterTargetArn") ||
          !d["deadLetterTargetArn"].IsString() || !d.HasMember("maxReceiveCount"))
        return invalid_value(name);
      const auto& mrc = d["maxReceiveCount"];
      long long count = 0;
      if (mrc.IsInt64()) count = mrc.GetInt64();
      else if (mrc.IsString()) count = to_int(mrc.GetString()).value_or(0);
      if (count < 1 || count > 1000) return invalid_value(name);
    }
    return Status::ok();
  }
  return sqs_error(SqsError::kInvalidAttributeName, "Unknown Attribute " + printable(name) + ".");
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

std::vector<MessageAttribute> decode_attributes(const std::string& s) {
  std::vector<MessageAttribute> out;
  rapidjson::Document d;
  d.Parse(s.c_str(), s.size());
  if (d.HasParseError() || !d.IsArray()) return out;
  for (const auto& e : d.GetArray()) {
    if (!e.IsArray() || e.Size() != 4) continue;
    MessageAttribute a;
    a.name = e[0].GetString();
    a.data_type = e[1].GetString();
    a.binary = e[3].GetBool();
    a.value = a.binary ? base64_decode(e[2].GetString()).value_or("") : e[2].GetString();
    out.push_back(std::move(a));
  }
  return out;
}

// XML 1.0 characters, the set SQS accepts in bodies and attribute values.
bool valid_sqs_text(std::string_view s) {
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

// Client input echoed in an error message: XML and JSON must stay well formed.
std::string printable(std::string_view s) {
  std::string out(s.substr(0, 256));
  for (char& c : out)
    if (c < 0x20 || c > 0x7E) c = '?';
  return out;
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

std::string random_nonce() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(gen()));
  return buf;
}

void put_u32(std::string& out, std::size_t n) {
  out.push_back(static_cast<char>((n >> 24) & 255));
  out.push_back(static_cast<char>((n >> 16) & 255));
  out.push_back(static_cast<char>((n >> 8) & 255));
  out.push_back(static_cast<char>(n & 255));
}

}  // namespace

Status sqs_error(SqsError e, std::string message) {
  Code code = Code::kInvalidParameter;
  if (e == SqsError::kNonExistentQueue) code = Code::kNotFound;
  if (e == SqsError::kQueueAlreadyExists) code = Code::kConflict;
  if (e == SqsError::kInvalidAction) code = Code::kUnknownOperation;
  return Status(code, std::move(message), static_cast<int>(e));
}

std::size_t message_size(const SendInput& in) {
  std::size_t size = in.body.size();
  for (const auto& a : in.attributes) size += a.name.size() + a.data_type.size() + a.value.size();
  return size;
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

void QueueEngine::apply_attributes(Queue& q) {
  auto num = [&](const char* name, int& field, int def) {
    auto it = q.attributes.find(name);
    field = it == q.attributes.end() ? def : static_cast<int>(to_int(it->second).value_or(def));
  };
  num("VisibilityTimeout", q.visibility_timeout_s, 30);
  num("DelaySeconds", q.delay_s, 0);
  num("MessageRetentionPeriod", q.retention_s, 345600);
  num("MaximumMessageSize", q.max_message_size, static_cast<int>(kMaxBatchPayload));
  num("ReceiveMessageWaitTimeSeconds", q.receive_wait_s, 0);
  q.content_based_dedup = q.attributes.count("ContentBasedDeduplication") &&
                          q.attributes.at("ContentBasedDeduplication") == "true";
  q.redrive.reset();
  if (auto it = q.attributes.find("RedrivePolicy"); it != q.attributes.end() && !it->second.empty()) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseIterativeFlag>(it->second.c_str());
    if (!d.HasParseError() && d.IsObject() && d.HasMember("deadLetterTargetArn") && d["deadLetterTargetArn"].IsString()) {
      RedrivePolicy r;
      r.dead_letter_arn = d["deadLetterTargetArn"].GetString();
      const auto& mrc = d["maxReceiveCount"];
      r.max_receive_count = mrc.IsInt() ? mrc.GetInt() : static_cast<int>(to_int(mrc.IsString() ? mrc.GetString() : "0").value_or(0));
      if (r.max_receive_count > 0) q.redrive = r;
    }
  }
}

Status QueueEngine::load(Connection& c, std::int64_t now_ms) {
  (void)now_ms;
  Statement& qs = c.prepare(
      "SELECT id, region, account, name, attributes, tags, created_ms, modified_ms, next_sequence FROM sqs_queues");
  while (qs.step()) {
    auto q = std::make_unique<Queue>();
    q->id = qs.int64(0);
    q->region = qs.text(1);
    q->account = qs.text(2);
    q->name = qs.text(3);
    q->attributes = decode_string_map(qs.text(4));
    q->tags = decode_string_map(qs.text(5));
    q->created_ms = qs.int64(6);
    q->modified_ms = qs.int64(7);
    q->next_sequence = qs.int64(8);
    q->fifo = q->name.ends_with(".fifo");
    q->arn = "arn:aws:sqs:" + q->region + ":" + q->account + ":" + q->name;
    apply_attributes(*q);
    next_queue_id_ = std::max(next_queue_id_, q->id + 1);
    by_arn_[q->arn] = q.get();
    queues_[{q->region, q->name}] = std::move(q);
  }
  if (!qs.status().is_ok()) return qs.status();
  qs.reset();
  std::unordered_map<std::int64_t, Queue*> by_id;
  for (auto& [_, q] : queues_) by_id[q->id] = q.get();
  Statement& ms = c.prepare(
      "SELECT rowid, queue_id, message_id, body, attributes, sent_ms, visible_at_ms, first_receive_ms, receive_count, "
      "group_id, dedup_id, sequence_number, sender_id, trace_header, dlq_source_arn FROM sqs_messages ORDER BY rowid");
  std::size_t n = 0;
  while (ms.step()) {
    auto it = by_id.find(ms.int64(1));
    if (it == by_id.end()) continue;
    SqsMessage m;
    m.rowid = ms.int64(0);
    m.message_id = ms.text(2);
    m.body = ms.text(3);
    m.attributes = decode_attributes(ms.text(4));
    m.md5_body = md5_hex(m.body);
    m.md5_attributes = md5_of_attributes(m.attributes);
    m.sent_ms = ms.int64(5);
    m.visible_at_ms = ms.int64(6);
    m.first_receive_ms = ms.int64(7);
    m.receive_count = ms.int32(8);
    m.group_id = ms.text(9);
    m.dedup_id = ms.text(10);
    m.sequence_number = ms.text(11);
    m.sender_id = ms.text(12);
    m.trace_header = ms.text(13);
    m.dlq_source_arn = ms.text(14);
    // A message that was in flight when esmd stopped is visible again when its timeout ends,
    // as it would be in SQS; its FIFO group stays locked until then.
    if (m.receive_count > 0 && m.visible_at_ms > now_ms) {
      m.in_flight = true;
      if (it->second->fifo) ++it->second->groups_in_flight[m.group_id];
    }
    // The deduplication ids of messages still queued outlive a restart (those of deleted
    // messages do not: the schema has no table for them).
    if (it->second->fifo && !m.dedup_id.empty() && m.dlq_source_arn.empty() && m.sent_ms + kDedupWindowMs > now_ms) {
      const Queue& q = *it->second;
      const bool per_group = q.attributes.count("DeduplicationScope") && q.attributes.at("DeduplicationScope") == "messageGroup";
      it->second->dedup[per_group ? m.group_id + "\n" + m.dedup_id : m.dedup_id] =
          Queue::Dedup{m.sent_ms + kDedupWindowMs, m.message_id, m.sequence_number};
    }
    it->second->messages.emplace(m.rowid, std::move(m));
    ++n;
  }
  if (!ms.status().is_ok()) return ms.status();
  ms.reset();
  for (auto& [_, q] : queues_)
    if (!q->messages.empty()) dirty_.insert(q.get());  // schedules their retention
  if (!queues_.empty()) spdlog::info("sqs: loaded {} queues, {} messages", queues_.size(), n);
  return Status::ok();
}

Status QueueEngine::persist_queue(Connection& c, const Queue& q) {
  Statement& st = c.prepare(
      "REPLACE INTO sqs_queues(id, region, account, name, attributes, tags, created_ms, modified_ms, next_sequence) "
      "VALUES(?,?,?,?,?,?,?,?,?)");
  st.bind(1, q.id)
      .bind(2, q.region)
      .bind(3, q.account)
      .bind(4, q.name)
      .bind(5, encode_string_map(q.attributes))
      .bind(6, encode_string_map(q.tags))
      .bind(7, q.created_ms)
      .bind(8, q.modified_ms)
      .bind(9, q.next_sequence);
  return st.run();
}

Result<Queue*> QueueEngine::create_queue(Connection& c, const std::string& region, const std::string& name,
                                         const std::map<std::string, std::string>& attributes,
                                         const std::map<std::string, std::string>& tags, std::int64_t now_ms) {
  const auto fifo_attr = attributes.find("FifoQueue");
  const bool fifo = fifo_attr != attributes.end() && fifo_attr->second == "true";
  if (name.ends_with(".fifo") && !fifo)
    return sqs_error(SqsError::kInvalidParameterValue,
                     "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length");
  if (!valid_queue_name(name, fifo)) {
    if (fifo && !name.ends_with(".fifo"))
      return sqs_error(SqsError::kInvalidParameterValue, "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.");
    return sqs_error(SqsError::kInvalidParameterValue,
                     "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length");
  }
  for (const auto& [k, v] : attributes) {
    if (Status s = check_attribute(k, v); !s.is_ok()) return s;
    if (!fifo && (k == "ContentBasedDeduplication" || k == "DeduplicationScope" || k == "FifoThroughputLimit"))
      return sqs_error(SqsError::kInvalidAttributeName, "Unknown Attribute " + k + ".");
  }
  for (const auto& [k, v] : tags)
    if (!valid_sqs_text(k) || !valid_sqs_text(v) || k.empty())
      return sqs_error(SqsError::kInvalidParameterValue, "Tag key or value contains invalid characters.");
  std::map<std::string, std::string> attrs = attributes;
  if (fifo_attr != attributes.end() && !fifo) attrs.erase("FifoQueue");
  auto key = std::make_pair(region, name);
  if (auto it = queues_.find(key); it != queues_.end()) {
    // SQS compares the values in effect, so naming a default value matches a queue created
    // without it.
    const auto current = effective_attributes(*it->second);
    for (const auto& [k, v] : attrs) {
      auto e = current.find(k);
      if (e == current.end() ? !v.empty() : e->second != v)
        return sqs_error(SqsError::kQueueAlreadyExists,
                         "A queue already exists with the same name and a different value for attribute " + k);
    }
    return it->second.get();
  }
  if (auto it = attrs.find("RedrivePolicy"); it != attrs.end())
    if (Status s = check_dead_letter_target(it->second, fifo); !s.is_ok()) return s;
  auto q = std::make_unique<Queue>();
  q->id = next_queue_id_++;
  q->region = region;
  q->account = account_;
  q->name = name;
  q->fifo = fifo;
  q->arn = "arn:aws:sqs:" + region + ":" + account_ + ":" + name;
  q->attributes = attrs;
  q->tags = tags;
  q->created_ms = q->modified_ms = now_ms;
  apply_attributes(*q);
  if (Status s = persist_queue(c, *q); !s.is_ok()) return s;
  Queue* raw = q.get();
  by_arn_[raw->arn] = raw;
  queues_[key] = std::move(q);
  spdlog::info("sqs: queue {} created", raw->arn);
  return raw;
}

Result<Queue*> QueueEngine::find(const std::string& region, const std::string& name) {
  auto it = queues_.find({region, name});
  if (it == queues_.end())
    return sqs_error(SqsError::kNonExistentQueue, "The specified queue does not exist.");
  return it->second.get();
}

Queue* QueueEngine::find_by_arn(const std::string& arn) {
  auto it = by_arn_.find(arn);
  return it == by_arn_.end() ? nullptr : it->second;
}

Status QueueEngine::delete_queue(Connection& c, Queue& q) {
  Statement& m = c.prepare("DELETE FROM sqs_messages WHERE queue_id = ?");
  m.bind(1, q.id);
  if (Status s = m.run(); !s.is_ok()) return s;
  Statement& st = c.prepare("DELETE FROM sqs_queues WHERE id = ?");
  st.bind(1, q.id);
  if (Status s = st.run(); !s.is_ok()) return s;
  for (auto& w : q.waiters) {
    if (w->done) continue;
    w->done = true;
    db_.defer([cb = w->callback](const Status& commit) {
      cb(commit.is_ok() ? sqs_error(SqsError::kNonExistentQueue, "The specified queue does not exist.") : commit);
    });
  }
  spdlog::info("sqs: queue {} deleted", q.arn);
  schedule(q, std::nullopt);
  dirty_.erase(&q);
  by_arn_.erase(q.arn);
  queues_.erase({q.region, q.name});
  return Status::ok();
}

std::vector<const Queue*> QueueEngine::list(const std::string& region, const std::string& prefix) const {
  std::vector<const Queue*> out;
  for (const auto& [key, q] : queues_)
    if (key.first == region && std::string_view(q->name).starts_with(prefix)) out.push_back(q.get());
  return out;
}

std::map<std::string, std::string> QueueEngine::effective_attributes(const Queue& q) {
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

Status QueueEngine::check_dead_letter_target(const std::string& policy, bool fifo) {
  if (policy.empty()) return Status::ok();
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(policy.c_str(), policy.size());
  const Queue* dlq = nullptr;
  if (!d.HasParseError() && d.IsObject() && d.HasMember("deadLetterTargetArn") && d["deadLetterTargetArn"].IsString())
    dlq = find_by_arn(d["deadLetterTargetArn"].GetString());
  const std::string prefix = "Value " + printable(policy) + " for parameter RedrivePolicy is invalid. Reason: ";
  if (!dlq) return sqs_error(SqsError::kInvalidParameterValue, prefix + "Dead letter target does not exist.");
  if (dlq->fifo != fifo)
    return sqs_error(SqsError::kInvalidParameterValue,
                     prefix + "Dead-letter target must be the same type of queue (FIFO or standard) as the source.");
  return Status::ok();
}

Result<std::map<std::string, std::string>> QueueEngine::get_attributes(Queue& q, const std::vector<std::string>& names,
                                                                       std::int64_t now_ms) {
  std::map<std::string, std::string> all = effective_attributes(q);
  all["QueueArn"] = q.arn;
  all["CreatedTimestamp"] = std::to_string(q.created_ms / 1000);
  all["LastModifiedTimestamp"] = std::to_string(q.modified_ms / 1000);
  long long visible = 0, in_flight = 0, delayed = 0;
  const std::int64_t retention_ms = static_cast<std::int64_t>(q.retention_s) * 1000;
  for (const auto& [_, m] : q.messages) {
    if (m.sent_ms + retention_ms <= now_ms) continue;  // expired, deleted at the next sweep
    if (m.in_flight && m.visible_at_ms > now_ms) ++in_flight;
    else if (m.visible_at_ms > now_ms) ++delayed;
    else ++visible;
  }
  all["ApproximateNumberOfMessages"] = std::to_string(visible);
  all["ApproximateNumberOfMessagesNotVisible"] = std::to_string(in_flight);
  all["ApproximateNumberOfMessagesDelayed"] = std::to_string(delayed);
  std::map<std::string, std::string> out;
  for (const auto& n : names) {
    if (n == "All") return all;
    auto it = all.find(n);
    if (it != all.end()) {
      out.insert(*it);
      continue;
    }
    bool known = n == "Policy" || n == "RedrivePolicy" || n == "RedriveAllowPolicy" || n == "KmsMasterKeyId" ||
                 n == "KmsDataKeyReusePeriodSeconds";
    if (!known) return sqs_error(SqsError::kInvalidAttributeName, "Unknown Attribute " + printable(n) + ".");
  }
  return out;
}

Status QueueEngine::set_attributes(Connection& c, Queue& q, const std::map<std::string, std::string>& attributes,
                                   std::int64_t now_ms) {
  for (const auto& [k, v] : attributes) {
    if (Status s = check_attribute(k, v); !s.is_ok()) return s;
    if (k == "FifoQueue" && (v == "true") != q.fifo) return invalid_value(k);
    if (!q.fifo && (k == "ContentBasedDeduplication" || k == "DeduplicationScope" || k == "FifoThroughputLimit"))
      return sqs_error(SqsError::kInvalidAttributeName, "Unknown Attribute " + k + ".");
    if (k == "RedrivePolicy")
      if (Status s = check_dead_letter_target(v, q.fifo); !s.is_ok()) return s;
  }
  for (const auto& [k, v] : attributes) {
    if (k == "FifoQueue") continue;
    if (v.empty() && (k == "RedrivePolicy" || k == "Policy" || k == "RedriveAllowPolicy"))
      q.attributes.erase(k);
    else
      q.attributes[k] = v;
  }
  q.modified_ms = now_ms;
  apply_attributes(q);
  touch(q);  // the retention period may have changed
  return persist_queue(c, q);
}

Status QueueEngine::tag(Connection& c, Queue& q, const std::map<std::string, std::string>& tags) {
  for (const auto& [k, v] : tags)
    if (!valid_sqs_text(k) || !valid_sqs_text(v) || k.empty())
      return sqs_error(SqsError::kInvalidParameterValue, "Tag key or value contains invalid characters.");
  auto merged = q.tags;
  for (const auto& [k, v] : tags) merged[k] = v;
  if (merged.size() > 50) return sqs_error(SqsError::kInvalidParameterValue, "Too many tags added for queue " + q.name + ".");
  q.tags = std::move(merged);
  return persist_queue(c, q);
}

Status QueueEngine::untag(Connection& c, Queue& q, const std::vector<std::string>& keys) {
  for (const auto& k : keys) q.tags.erase(k);
  return persist_queue(c, q);
}

Status QueueEngine::validate_message(const Queue& q, const SendInput& in) const {
  if (in.body.empty())
    return sqs_error(SqsError::kMissingParameter, "The request must contain the parameter MessageBody.");
  if (in.attributes.size() > 10)
    return sqs_error(SqsError::kInvalidParameterValue,
                     "Number of message attributes [" + std::to_string(in.attributes.size()) +
                         "] exceeds the allowed maximum [10].");
  for (const auto& a : in.attributes) {
    if (!valid_attribute_name(a.name))
      return sqs_error(SqsError::kInvalidParameterValue, "Message (user) attribute name '" + printable(a.name) +
                                                             "' is invalid. Names may hold alphanumerics, '_', '-' "
                                                             "and '.', at most 256, and must not start with AWS. "
                                                             "or Amazon.");
    const std::string_view type = base_type(a.data_type);
    if (type.empty() || a.data_type.size() > 256 || !valid_sqs_text(a.data_type))
      return sqs_error(SqsError::kInvalidParameterValue,
                       "The type of message (user) attribute '" + a.name + "' is invalid. You must use only the "
                       "following supported type prefixes: Binary, Number, String.");
    const bool is_binary = type == "Binary";
    if (a.binary != is_binary || a.value.empty())
      return sqs_error(SqsError::kInvalidParameterValue,
                       "Message (user) attribute '" + a.name +
                           "' must contain a non-empty message attribute value for message attribute type '" +
                           std::string(type) + "'.");
    if (type == "Number" && !valid_number(a.value))
      return sqs_error(SqsError::kInvalidParameterValue,
                       "Can't cast the value of message (user) attribute '" + a.name + "' to a number.");
    if (!is_binary && !valid_sqs_text(a.value))
      return sqs_error(SqsError::kInvalidParameterValue,
                       "Message (user) attribute '" + a.name + "' contains invalid characters.");
  }
  if (message_size(in) > static_cast<std::size_t>(q.max_message_size))
    return sqs_error(SqsError::kInvalidParameterValue,
                     "One or more parameters are invalid. Reason: Message must be shorter than " +
                         std::to_string(q.max_message_size) + " bytes.");
  if (!valid_sqs_text(in.body))
    return sqs_error(SqsError::kInvalidMessageContents,
                     "Invalid characters found. Valid characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to "
                     "#xFFFD | #x10000 to #x10FFFF");
  if (!valid_sqs_text(in.trace_header))
    return sqs_error(SqsError::kInvalidParameterValue, "Message system attribute 'AWSTraceHeader' is invalid.");
  if (q.fifo) {
    if (in.group_id.empty())
      return sqs_error(SqsError::kMissingParameter, "The request must contain the parameter MessageGroupId.");
    if (in.delay_s && *in.delay_s != 0)
      return sqs_error(SqsError::kInvalidParameterValue,
                       "Value " + std::to_string(*in.delay_s) +
                           " for parameter DelaySeconds is invalid. Reason: The request include parameter that is not "
                           "valid for this queue type.");
    if (in.dedup_id.empty() && !q.content_based_dedup)
      return sqs_error(SqsError::kInvalidParameterValue,
                       "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId "
                       "provided explicitly");
  } else if (!in.dedup_id.empty()) {
    return sqs_error(SqsError::kInvalidParameterValue,
                     "Value " + printable(in.dedup_id) +
                         " for parameter MessageDeduplicationId is invalid. Reason: The request includes a parameter "
                         "that is not valid for this queue type.");
  }
  // Standard queues accept MessageGroupId (fair queues) under the same rules.
  for (const auto& [param, value] : {std::pair<const char*, const std::string&>{"MessageGroupId", in.group_id},
                                     std::pair<const char*, const std::string&>{"MessageDeduplicationId", in.dedup_id}})
    if (!value.empty() && !valid_fifo_token(value))
      return sqs_error(SqsError::kInvalidParameterValue,
                       "Value " + printable(value) + " for parameter " + param + " is invalid. Reason: " + param +
                           " can only include alphanumeric and punctuation characters. 1 to 128 in length.");
  if (in.delay_s && (*in.delay_s < 0 || *in.delay_s > 900))
    return sqs_error(SqsError::kInvalidParameterValue,
                     "Value " + std::to_string(*in.delay_s) +
                         " for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.");
  return Status::ok();
}

Status QueueEngine::insert_message(Connection& c, Queue& q, SqsMessage& m) {
  Statement& st = c.prepare(
      "INSERT INTO sqs_messages(queue_id, message_id, body, attributes, sent_ms, visible_at_ms, first_receive_ms, "
      "receive_count, group_id, dedup_id, sequence_number, sender_id, trace_header, dlq_source_arn) "
      "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  st.bind(1, q.id)
      .bind(2, m.message_id)
      .bind(3, m.body)
      .bind(4, encode_attributes(m.attributes))
      .bind(5, m.sent_ms)
      .bind(6, m.visible_at_ms)
      .bind(7, m.first_receive_ms)
      .bind(8, m.receive_count)
      .bind(9, m.group_id)
      .bind(10, m.dedup_id)
      .bind(11, m.sequence_number)
      .bind(12, m.sender_id)
      .bind(13, m.trace_header)
      .bind(14, m.dlq_source_arn);
  if (Status s = st.run(); !s.is_ok()) return s;
  m.rowid = c.last_insert_rowid();
  return Status::ok();
}

Result<SendResult> QueueEngine::send(Connection& c, Queue& q, SendInput in, std::int64_t now_ms) {
  if (Status s = validate_message(q, in); !s.is_ok()) return s;
  std::string md5_system;
  if (!in.trace_header.empty())
    md5_system = md5_of_attributes({MessageAttribute{"AWSTraceHeader", "String", in.trace_header, false}});
  std::sort(in.attributes.begin(), in.attributes.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  SqsMessage m;
  m.body = std::move(in.body);
  m.attributes = std::move(in.attributes);
  m.md5_body = md5_hex(m.body);
  m.md5_attributes = md5_of_attributes(m.attributes);
  m.sent_ms = now_ms;
  m.visible_at_ms = now_ms + static_cast<std::int64_t>(in.delay_s.value_or(q.delay_s)) * 1000;
  m.group_id = std::move(in.group_id);
  m.sender_id = std::move(in.sender_id);
  m.trace_header = std::move(in.trace_header);
  if (q.fifo) {
    m.dedup_id = in.dedup_id.empty() ? sha256_hex(m.body) : in.dedup_id;
    std::string dedup_key = m.dedup_id;
    if (q.attributes.count("DeduplicationScope") && q.attributes.at("DeduplicationScope") == "messageGroup")
      dedup_key = m.group_id + "\n" + m.dedup_id;
    auto it = q.dedup.find(dedup_key);
    if (it != q.dedup.end() && it->second.expires_ms > now_ms)
      return SendResult{it->second.message_id, m.md5_body, m.md5_attributes, it->second.sequence_number, md5_system};
    char seq[32];
    std::snprintf(seq, sizeof seq, "%020lld", static_cast<long long>(++q.next_sequence));
    m.sequence_number = seq;
    if (q.dedup.size() > 100000) {
      for (auto d = q.dedup.begin(); d != q.dedup.end();) d = d->second.expires_ms <= now_ms ? q.dedup.erase(d) : std::next(d);
    }
    m.message_id = new_uuid();
    q.dedup[dedup_key] = {now_ms + kDedupWindowMs, m.message_id, m.sequence_number};
    if (Status s = persist_queue(c, q); !s.is_ok()) return s;
  } else {
    m.message_id = new_uuid();
  }
  if (Status s = insert_message(c, q, m); !s.is_ok()) return s;
  SendResult r{m.message_id, m.md5_body, m.md5_attributes, m.sequence_number, md5_system};
  q.messages.emplace(m.rowid, std::move(m));
  serve_waiters(c, q, now_ms);
  // A first message starts the retention clock; a delayed one must wake a waiting long poll.
  if (q.messages.size() == 1 || !q.waiters.empty()) touch(q);
  return r;
}

std::string QueueEngine::receipt_for(const Queue& q, const SqsMessage& m) const {
  return base64_encode("esmd:" + std::to_string(q.id) + ":" + std::to_string(m.rowid) + ":" + m.receipt_nonce + ":" +
                       m.message_id);
}

Result<SqsMessage*> QueueEngine::decode_receipt(Queue& q, const std::string& handle) {
  auto invalid = [&] {
    return sqs_error(SqsError::kReceiptHandleIsInvalid,
                     "The input receipt handle \"" + printable(handle) + "\" is not a valid receipt handle.");
  };
  auto raw = base64_decode(handle);
  if (!raw || !raw->starts_with("esmd:")) return invalid();
  std::string_view rest = std::string_view(*raw).substr(5);
  auto next = [&](std::int64_t& out) {
    const auto colon = rest.find(':');
    if (colon == std::string_view::npos) return false;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + colon, out);
    const bool ok = ec == std::errc() && p == rest.data() + colon;
    rest.remove_prefix(colon + 1);
    return ok;
  };
  std::int64_t qid = 0, rowid = 0;
  if (!next(qid) || !next(rowid)) return invalid();
  const auto nonce_end = rest.find(':');
  if (nonce_end == std::string_view::npos) return invalid();
  const std::string_view message_id = rest.substr(nonce_end + 1);
  if (qid != q.id) return invalid();
  // SQLite may give a deleted message's rowid to a new one: the message id tells them apart.
  auto it = q.messages.find(rowid);
  if (it == q.messages.end() || it->second.message_id != message_id) return static_cast<SqsMessage*>(nullptr);
  return &it->second;
}

void QueueEngine::release_group(Queue& q, SqsMessage& m) {
  if (!q.fifo || !m.in_flight) return;
  auto it = q.groups_in_flight.find(m.group_id);
  if (it != q.groups_in_flight.end() && --it->second <= 0) q.groups_in_flight.erase(it);
}

Status QueueEngine::remove_message(Connection& c, Queue& q, std::map<std::int64_t, SqsMessage>::iterator it) {
  release_group(q, it->second);
  Statement& st = c.prepare("DELETE FROM sqs_messages WHERE rowid = ?");
  st.bind(1, it->first);
  Status s = st.run();
  q.messages.erase(it);
  return s;
}

std::vector<Received> QueueEngine::take_visible(Connection& c, Queue& q, const ReceiveOptions& opt,
                                                std::int64_t now_ms) {
  std::vector<Received> out;
  std::vector<std::string> blocked_groups;
  std::vector<std::string> taken_groups;
  std::vector<Queue*> redriven_to;
  const int vt = opt.visibility_timeout_s.value_or(q.visibility_timeout_s);
  const std::int64_t retention_ms = static_cast<std::int64_t>(q.retention_s) * 1000;
  auto contains = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  // A FIFO group is locked while any of its messages is in flight. Messages whose visibility
  // timeout ended are released first: otherwise the first of several that ended together
  // would still see the others holding its group.
  if (q.fifo && !q.groups_in_flight.empty()) {
    std::size_t remaining = 0;
    for (const auto& [_, n] : q.groups_in_flight) remaining += static_cast<std::size_t>(n);
    for (auto it = q.messages.begin(); it != q.messages.end() && remaining > 0; ++it) {
      SqsMessage& m = it->second;
      if (!m.in_flight) continue;
      --remaining;
      if (m.visible_at_ms <= now_ms) {
        release_group(q, m);
        m.in_flight = false;
      }
    }
  }
  for (auto it = q.messages.begin(); it != q.messages.end() && static_cast<int>(out.size()) < opt.max_messages;) {
    SqsMessage& m = it->second;
    if (m.sent_ms + retention_ms <= now_ms) {
      it = std::next(it);
      (void)remove_message(c, q, std::prev(it));
      continue;
    }
    if (m.visible_at_ms > now_ms) {
      if (q.fifo && !contains(blocked_groups, m.group_id)) blocked_groups.push_back(m.group_id);
      ++it;
      continue;
    }
    if (m.in_flight) {
      release_group(q, m);
      m.in_flight = false;
    }
    if (q.fifo) {
      if (contains(blocked_groups, m.group_id) ||
          (q.groups_in_flight.count(m.group_id) && !contains(taken_groups, m.group_id))) {
        if (!contains(blocked_groups, m.group_id)) blocked_groups.push_back(m.group_id);
        ++it;
        continue;
      }
    }
    if (q.redrive && m.receive_count >= q.redrive->max_receive_count) {
      Queue* dlq = find_by_arn(q.redrive->dead_letter_arn);
      if (dlq && dlq != &q) {
        // ApproximateReceiveCount counts receives across all queues, so the count and the
        // first receive travel with the message.
        SqsMessage moved = m;
        moved.rowid = 0;
        moved.in_flight = false;
        moved.visible_at_ms = now_ms;
        moved.dlq_source_arn = q.arn;
        if (dlq->fifo) {
          // A FIFO dead-letter queue restarts the retention clock; a standard one does not.
          moved.sent_ms = now_ms;
          char seq[32];
          std::snprintf(seq, sizeof seq, "%020lld", static_cast<long long>(++dlq->next_sequence));
          moved.sequence_number = seq;
          (void)persist_queue(c, *dlq);
        }
        if (insert_message(c, *dlq, moved).is_ok()) {
          spdlog::debug("sqs: message {} moved from {} to dead-letter queue {}", moved.message_id, q.name, dlq->name);
          dlq->messages.emplace(moved.rowid, std::move(moved));
          redriven_to.push_back(dlq);
          it = std::next(it);
          (void)remove_message(c, q, std::prev(it));
          continue;
        }
      }
    }
    ++m.receive_count;
    if (m.first_receive_ms == 0) m.first_receive_ms = now_ms;
    m.visible_at_ms = now_ms + static_cast<std::int64_t>(vt) * 1000;
    m.in_flight = true;
    m.receipt_nonce = random_nonce();
    if (q.fifo) {
      ++q.groups_in_flight[m.group_id];
      if (!contains(taken_groups, m.group_id)) taken_groups.push_back(m.group_id);
    }
    Statement& st =
        c.prepare("UPDATE sqs_messages SET visible_at_ms = ?, first_receive_ms = ?, receive_count = ? WHERE rowid = ?");
    st.bind(1, m.visible_at_ms).bind(2, m.first_receive_ms).bind(3, m.receive_count).bind(4, m.rowid);
    (void)st.run();
    out.push_back(Received{m, receipt_for(q, m)});
    ++it;
  }
  for (Queue* dlq : redriven_to) {
    serve_waiters(c, *dlq, now_ms);
    touch(*dlq);
  }
  return out;
}

void QueueEngine::serve_waiters(Connection& c, Queue& q, std::int64_t now_ms) {
  while (!q.waiters.empty()) {
    auto w = q.waiters.front();
    if (w->done) {
      q.waiters.pop_front();
      continue;
    }
    auto got = take_visible(c, q, w->options, now_ms);
    if (got.empty()) return;
    w->done = true;
    q.waiters.pop_front();
    db_.defer([cb = w->callback, got = std::move(got)](const Status& commit) mutable {
      if (!commit.is_ok()) return cb(commit);
      cb(std::move(got));
    });
  }
}

void QueueEngine::receive(Connection& c, Queue& q, const ReceiveOptions& opt, std::int64_t now_ms, ReceiveCallback cb) {
  // Earlier long polls are served first, as SQS serves its oldest waiting request.
  serve_waiters(c, q, now_ms);
  std::vector<Received> got = take_visible(c, q, opt, now_ms);
  if (!got.empty() || opt.wait_ms <= 0) {
    db_.defer([cb = std::move(cb), got = std::move(got)](const Status& commit) mutable {
      if (!commit.is_ok()) return cb(commit);
      cb(std::move(got));
    });
    return;
  }
  auto w = std::make_shared<Queue::Waiter>();
  w->options = opt;
  w->deadline_ms = now_ms + opt.wait_ms;
  w->callback = std::move(cb);
  q.waiters.push_back(w);
  serve_waiters(c, q, now_ms);
  touch(q);  // the tick must learn this waiter's deadline
}

Status QueueEngine::delete_message(Connection& c, Queue& q, const std::string& receipt_handle) {
  auto r = decode_receipt(q, receipt_handle);
  if (!r) return r.status();
  // Deleting an already deleted message succeeds, as in SQS.
  if (*r == nullptr) return Status::ok();
  const bool unlocks_group = q.fifo && (*r)->in_flight;
  Status s = remove_message(c, q, q.messages.find((*r)->rowid));
  // The rest of the group may now be received: the tick serves the waiting long polls.
  if (unlocks_group && !q.waiters.empty()) touch(q);
  return s;
}

Status QueueEngine::change_visibility(Connection& c, Queue& q, const std::string& receipt_handle, int timeout_s,
                                      std::int64_t now_ms) {
  if (timeout_s < 0 || timeout_s > 43200)
    return sqs_error(SqsError::kInvalidParameterValue,
                     "Value " + std::to_string(timeout_s) +
                         " for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if "
                         "provided.");
  auto r = decode_receipt(q, receipt_handle);
  if (!r) return r.status();
  SqsMessage* m = *r;
  if (m == nullptr || !m->in_flight || m->visible_at_ms <= now_ms)
    return sqs_error(SqsError::kMessageNotInflight, "Message does not exist or is not available for visibility timeout change.");
  m->visible_at_ms = now_ms + static_cast<std::int64_t>(timeout_s) * 1000;
  Statement& st = c.prepare("UPDATE sqs_messages SET visible_at_ms = ? WHERE rowid = ?");
  st.bind(1, m->visible_at_ms).bind(2, m->rowid);
  if (Status s = st.run(); !s.is_ok()) return s;
  if (timeout_s == 0) serve_waiters(c, q, now_ms);
  if (!q.waiters.empty()) touch(q);
  return Status::ok();
}

Status QueueEngine::purge(Connection& c, Queue& q) {
  Statement& st = c.prepare("DELETE FROM sqs_messages WHERE queue_id = ?");
  st.bind(1, q.id);
  if (Status s = st.run(); !s.is_ok()) return s;
  q.messages.clear();
  q.groups_in_flight.clear();
  return Status::ok();
}

void QueueEngine::cancel_waiters(const std::string& owner) {
  for (auto& [_, q] : queues_) {
    for (auto& w : q->waiters) {
      if (w->done || w->options.owner != owner) continue;
      w->done = true;
      db_.defer([cb = w->callback](const Status& commit) {
        if (!commit.is_ok()) return cb(commit);
        cb(std::vector<Received>{});
      });
    }
  }
}

void QueueEngine::release(Connection& c, Queue& q, const std::vector<std::string>& receipt_handles,
                          std::int64_t now_ms) {
  for (const auto& h : receipt_handles) (void)change_visibility(c, q, h, 0, now_ms);
}

void QueueEngine::expire(Connection& c, Queue& q, std::int64_t now_ms) {
  // Messages are kept in send order, so the expired ones lead; a message moved in from a
  // source queue keeps its older timestamp and may sit behind younger ones until a receive
  // (take_visible) or this sweep reaches it.
  const std::int64_t retention_ms = static_cast<std::int64_t>(q.retention_s) * 1000;
  std::size_t n = 0;
  while (!q.messages.empty() && q.messages.begin()->second.sent_ms + retention_ms <= now_ms) {
    (void)remove_message(c, q, q.messages.begin());
    ++n;
  }
  if (n > 0) spdlog::debug("sqs: {} messages in {} passed the retention period", n, q.name);
}

void QueueEngine::touch(Queue& q) {
  if (dirty_.insert(&q).second) db_.poke();
}

void QueueEngine::schedule(Queue& q, std::optional<std::int64_t> at) {
  if (q.wakeup) {
    wakeups_.erase(*q.wakeup);
    q.wakeup.reset();
  }
  if (at) q.wakeup = wakeups_.emplace(*at, &q);
}

void QueueEngine::process(Connection& c, Queue& q, std::int64_t now_ms) {
  std::optional<std::int64_t> next;
  auto consider = [&](std::int64_t t) {
    if (!next || t < *next) next = t;
  };
  expire(c, q, now_ms);
  if (!q.messages.empty())
    consider(q.messages.begin()->second.sent_ms + static_cast<std::int64_t>(q.retention_s) * 1000);
  for (auto& w : q.waiters) {
    if (!w->done && w->deadline_ms <= now_ms) {
      w->done = true;
      db_.defer([cb = w->callback](const Status& commit) {
        if (!commit.is_ok()) return cb(commit);
        cb(std::vector<Received>{});
      });
    }
  }
  while (!q.waiters.empty() && q.waiters.front()->done) q.waiters.pop_front();
  if (!q.waiters.empty()) serve_waiters(c, q, now_ms);
  if (!q.waiters.empty()) {
    for (auto& w : q.waiters)
      if (!w->done) consider(w->deadline_ms);
    // Wake when the next invisible message becomes visible again.
    for (const auto& [rowid, m] : q.messages)
      if (m.visible_at_ms > now_ms) consider(m.visible_at_ms);
  }
  schedule(q, next);
}

std::optional<std::int64_t> QueueEngine::tick(Connection& c, std::int64_t now_ms) {
  while (!wakeups_.empty() && wakeups_.begin()->first <= now_ms) {
    Queue* q = wakeups_.begin()->second;
    wakeups_.erase(wakeups_.begin());
    q->wakeup.reset();
    dirty_.insert(q);
  }
  std::set<Queue*> due;
  due.swap(dirty_);
  for (Queue* q : due) process(c, *q, now_ms);
  if (wakeups_.empty()) return std::nullopt;
  return wakeups_.begin()->first;
}

}  // namespace esm::storage
