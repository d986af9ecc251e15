// The single-message operations of the SQS front-end.
#include "api/json_util.h"
#include "api/sqs/operation.h"
#include "core/codec.h"
#include "services/sqs/rules.h"

namespace esm::api::sqs_wire {
namespace {

using sqs::Received;

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

Value system_attributes_json(const sqs::Message& m, const std::vector<std::string>& names, Alloc& a) {
  Value attrs(rapidjson::kObjectType);
  auto add = [&](const char* name, const std::string& val) {
    if (wants(names, name)) attrs.AddMember(Value(name, a), json::string_value(val, a), a);
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
  return attrs;
}

Value message_json(const Received& r, const std::vector<std::string>& attr_names,
                   const std::vector<std::string>& msg_attr_names, Alloc& a) {
  const sqs::Message& m = r.message;
  Value v(rapidjson::kObjectType);
  const std::string md5_body = m.md5_body.empty() ? md5_hex(m.body) : m.md5_body;
  v.AddMember("MessageId", json::string_value(m.message_id, a), a);
  v.AddMember("ReceiptHandle", json::string_value(r.receipt_handle, a), a);
  v.AddMember("MD5OfBody", json::string_value(md5_body, a), a);
  v.AddMember("Body", json::string_value(m.body, a), a);
  Value attrs = system_attributes_json(m, attr_names, a);
  if (attrs.MemberCount() > 0) v.AddMember("Attributes", attrs, a);
  std::vector<sqs::MessageAttribute> returned;
  for (const auto& ma : m.attributes)
    if (wants_message_attribute(msg_attr_names, ma.name)) returned.push_back(ma);
  if (!m.attributes.empty())
    v.AddMember("MD5OfMessageAttributes",
                json::string_value(sqs::md5_of_attributes(returned.empty() ? m.attributes : returned), a),
                a);
  if (!returned.empty()) {
    Value mattrs(rapidjson::kObjectType);
    for (const auto& ma : returned) {
      Value e(rapidjson::kObjectType);
      if (ma.binary) e.AddMember("BinaryValue", json::string_value(base64_encode(ma.value), a), a);
      else e.AddMember("StringValue", json::string_value(ma.value, a), a);
      e.AddMember("DataType", json::string_value(ma.data_type, a), a);
      mattrs.AddMember(json::string_value(ma.name, a), e, a);
    }
    v.AddMember("MessageAttributes", mattrs, a);
  }
  return v;
}

// ReceiveMessage's options, checked as SQS checks them.
Expected<sqs::ReceiveOptions, SqsFault> receive_options(const Value& in, const Queue& q) {
  sqs::ReceiveOptions opt;
  auto out_of_range = [](long long v, const char* name, const char* reason) {
    return SqsFault{SqsCode::kInvalidParameterValue,
                    "Value " + std::to_string(v) + " for parameter " + name + " is invalid. Reason: " + reason};
  };
  auto max = integer(in, "MaxNumberOfMessages");
  if (!max) return max.error();
  if (*max && (**max < 1 || **max > 10))
    return out_of_range(**max, "MaxNumberOfMessages", "Must be between 1 and 10, if provided.");
  opt.max_messages = static_cast<int>(max->value_or(1));
  auto vt = integer(in, "VisibilityTimeout");
  if (!vt) return vt.error();
  if (*vt) {
    if (**vt < 0 || **vt > sqs::kMaxVisibilityTimeoutS)
      return out_of_range(**vt, "VisibilityTimeout", "Must be between 0 and 43200, if provided.");
    opt.visibility_timeout_s = static_cast<int>(**vt);
  }
  auto wait = integer(in, "WaitTimeSeconds");
  if (!wait) return wait.error();
  const long long wait_s = wait->value_or(q.receive_wait_s);
  if (wait_s < 0 || wait_s > 20) return out_of_range(wait_s, "WaitTimeSeconds", "Must be >= 0 and <= 20, if provided.");
  opt.wait_ms = wait_s * 1000;
  return opt;
}

}  // namespace

Value send_result_json(const sqs::SendResult& r, Alloc& a) {
  Value v(rapidjson::kObjectType);
  v.AddMember("MD5OfMessageBody", json::string_value(r.md5_body, a), a);
  if (!r.md5_attributes.empty()) v.AddMember("MD5OfMessageAttributes", json::string_value(r.md5_attributes, a), a);
  if (!r.md5_system_attributes.empty())
    v.AddMember("MD5OfMessageSystemAttributes", json::string_value(r.md5_system_attributes, a), a);
  v.AddMember("MessageId", json::string_value(r.message_id, a), a);
  if (!r.sequence_number.empty()) v.AddMember("SequenceNumber", json::string_value(r.sequence_number, a), a);
  return v;
}

OpResult send_message(OpContext& ctx) {
  auto q = ctx.queue();
  if (!q) return q.error();
  auto input = send_input(ctx.in, ctx.sender);
  if (!input) return input.error();
  auto r = ctx.queues.send(ctx.c, **q, std::move(*input), ctx.now);
  if (!r) return sqs_fault(r.error());
  ctx.out.CopyFrom(send_result_json(*r, ctx.alloc()), ctx.alloc());
  return Answer::kNow;
}

OpResult receive_message(OpContext& ctx) {
  auto q = ctx.queue();
  if (!q) return q.error();
  auto opt = receive_options(ctx.in, **q);
  if (!opt) return opt.error();
  std::vector<std::string> attr_names = json::string_list(ctx.in, "AttributeNames");
  for (auto& n : json::string_list(ctx.in, "MessageSystemAttributeNames")) attr_names.push_back(n);
  std::vector<std::string> msg_attr_names = json::string_list(ctx.in, "MessageAttributeNames");
  ctx.queues.receive(ctx.c, **q, *opt, ctx.now,
                     [protocol = ctx.protocol, op = ctx.op, reply = ctx.reply, request_id = ctx.request_id,
                      attr_names = std::move(attr_names),
                      msg_attr_names = std::move(msg_attr_names)](sqs::ReceiveResult got) {
                       if (!got) return reply(error_response(protocol, sqs_fault(got.error()), request_id));
                       rapidjson::Document doc(rapidjson::kObjectType);
                       auto& al = doc.GetAllocator();
                       if (!got->empty()) {
                         Value msgs(rapidjson::kArrayType);
                         for (const auto& r : *got) msgs.PushBack(message_json(r, attr_names, msg_attr_names, al), al);
                         doc.AddMember("Messages", msgs, al);
                       }
                       reply(ok_response(protocol, op, doc, request_id));
                     });
  return Answer::kLater;
}

OpResult delete_message(OpContext& ctx) {
  auto q = ctx.queue();
  if (!q) return q.error();
  auto handle = json::string_member(ctx.in, "ReceiptHandle");
  if (!handle) return sqs_missing_parameter("ReceiptHandle");
  if (auto r = ctx.queues.delete_message(ctx.c, **q, *handle); !r) return sqs_fault(r.error());
  return Answer::kNow;
}

OpResult change_message_visibility(OpContext& ctx) {
  auto q = ctx.queue();
  if (!q) return q.error();
  auto handle = json::string_member(ctx.in, "ReceiptHandle");
  if (!handle) return sqs_missing_parameter("ReceiptHandle");
  auto vt = integer(ctx.in, "VisibilityTimeout");
  if (!vt) return vt.error();
  if (!*vt) return sqs_missing_parameter("VisibilityTimeout");
  if (auto r = ctx.queues.change_visibility(ctx.c, **q, *handle, static_cast<int>(**vt), ctx.now); !r)
    return sqs_fault(r.error());
  return Answer::kNow;
}

}  // namespace esm::api::sqs_wire
