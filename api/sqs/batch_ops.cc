// The batch operations of the SQS front-end: each entry succeeds or fails on its own.
#include "api/json_util.h"
#include "api/sqs/operation.h"
#include "services/sqs/rules.h"

namespace esm::api::sqs_wire {
namespace {

void add_failure(Value& failed, const std::string& id, const SqsFault& f, Alloc& a) {
  const SqsWireShape shape = sqs_wire_shape(f.code);
  Value e(rapidjson::kObjectType);
  e.AddMember("Id", json::string_value(id, a), a);
  e.AddMember("SenderFault", shape.sender_fault, a);
  e.AddMember("Code", Value(shape.query_code, a), a);
  e.AddMember("Message", json::string_value(f.message, a), a);
  failed.PushBack(e, a);
}

void add_success(Value& ok, const std::string& id, Value v, Alloc& a) {
  v.AddMember("Id", json::string_value(id, a), a);
  ok.PushBack(v, a);
}

// Runs one entry function per entry and answers Successful and Failed.
template <typename Entry>
OpResult each_entry(OpContext& ctx, const char* entry_shape, Entry entry) {
  auto q = ctx.queue();
  if (!q) return q.error();
  auto entries = batch_entries(ctx.in, entry_shape);
  if (!entries) return entries.error();
  auto& a = ctx.alloc();
  Value ok(rapidjson::kArrayType), failed(rapidjson::kArrayType);
  for (const auto& e : (*entries)->GetArray()) {
    const std::string id = *json::string_member(e, "Id");
    Expected<Value, SqsFault> r = entry(**q, e);
    if (r) add_success(ok, id, std::move(*r), a);
    else add_failure(failed, id, r.error(), a);
  }
  ctx.out.AddMember("Successful", ok, a);
  ctx.out.AddMember("Failed", failed, a);
  return Answer::kNow;
}

// The limit is on the whole batch, bodies and attributes, whatever the queue's
// MaximumMessageSize.
Expected<void, SqsFault> check_batch_size(const Value& entries, const std::string& sender) {
  std::size_t total = 0;
  for (const auto& e : entries.GetArray())
    if (auto input = send_input(e, sender)) total += sqs::message_size(*input);
  if (total > sqs::kMaxBatchPayload)
    return SqsFault{SqsCode::kBatchRequestTooLong, "Batch requests cannot be longer than " +
                                                       std::to_string(sqs::kMaxBatchPayload) +
                                                       " bytes. You have sent " + std::to_string(total) + " bytes."};
  return {};
}

}  // namespace

OpResult send_message_batch(OpContext& ctx) {
  constexpr const char* kShape = "SendMessageBatchRequestEntry";
  auto q = ctx.queue();
  if (!q) return q.error();
  auto entries = batch_entries(ctx.in, kShape);
  if (!entries) return entries.error();
  if (auto size = check_batch_size(**entries, ctx.sender); !size) return size.error();
  return each_entry(ctx, kShape, [&](Queue& queue, const Value& e) -> Expected<Value, SqsFault> {
    auto input = send_input(e, ctx.sender);
    if (!input) return input.error();
    auto r = ctx.queues.send(ctx.c, queue, std::move(*input), ctx.now);
    if (!r) return sqs_fault(r.error());
    return send_result_json(*r, ctx.alloc());
  });
}

OpResult delete_message_batch(OpContext& ctx) {
  return each_entry(ctx, "DeleteMessageBatchRequestEntry", [&](Queue& q, const Value& e) -> Expected<Value, SqsFault> {
    auto handle = json::string_member(e, "ReceiptHandle");
    if (!handle) return sqs_missing_parameter("ReceiptHandle");
    if (auto r = ctx.queues.delete_message(ctx.c, q, *handle); !r) return sqs_fault(r.error());
    return Value(rapidjson::kObjectType);
  });
}

OpResult change_message_visibility_batch(OpContext& ctx) {
  return each_entry(ctx, "ChangeMessageVisibilityBatchRequestEntry",
                    [&](Queue& q, const Value& e) -> Expected<Value, SqsFault> {
                      auto handle = json::string_member(e, "ReceiptHandle");
                      if (!handle) return sqs_missing_parameter("ReceiptHandle");
                      auto vt = integer(e, "VisibilityTimeout");
                      if (!vt) return vt.error();
                      if (!*vt) return sqs_missing_parameter("VisibilityTimeout");
                      auto r = ctx.queues.change_visibility(ctx.c, q, *handle, static_cast<int>(**vt), ctx.now);
                      if (!r) return sqs_fault(r.error());
                      return Value(rapidjson::kObjectType);
                    });
}

}  // namespace esm::api::sqs_wire
