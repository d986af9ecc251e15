// The queue operations of the SQS front-end.
#include "api/json_util.h"
#include "api/sqs/operation.h"
#include "core/codec.h"

namespace esm::api::sqs_wire {

OpResult create_queue(OpContext& ctx) {
  auto name = json::string_member(ctx.in, "QueueName");
  if (!name) return sqs_missing_parameter("QueueName");
  auto attrs = string_map(ctx.in, "Attributes");
  if (!attrs) return attrs.error();
  auto tags = string_map(ctx.in, ctx.in.HasMember("tags") ? "tags" : "Tags");
  if (!tags) return tags.error();
  auto q = ctx.queues.create_queue(ctx.c, ctx.region, *name, *attrs, *tags, ctx.now);
  if (!q) return sqs_fault(q.error());
  ctx.out.AddMember("QueueUrl", json::string_value(ctx.url_of(**q), ctx.alloc()), ctx.alloc());
  return Answer::kNow;
}

OpResult get_queue_url(OpContext& ctx) {
  auto name = json::string_member(ctx.in, "QueueName");
  if (!name) return sqs_missing_parameter("QueueName");
  if (auto owner = json::string_member(ctx.in, "QueueOwnerAWSAccountId"); owner && *owner != ctx.account)
    return sqs_fault(sqs::Error{sqs::ErrorKind::kNonExistentQueue});
  auto q = ctx.queues.find(ctx.region, *name);
  if (!q) return sqs_fault(q.error());
  ctx.out.AddMember("QueueUrl", json::string_value(ctx.url_of(**q), ctx.alloc()), ctx.alloc());
  return Answer::kNow;
}

OpResult list_queues(OpContext& ctx) {
  auto& a = ctx.alloc();
  auto max = integer(ctx.in, "MaxResults");
  if (!max) return max.error();
  if (*max && (**max < 1 || **max > 1000))
    return SqsFault{SqsCode::kInvalidParameterValue,
                    "Value for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and "
                    "1000."};
  std::string after;
  if (auto token = json::string_member(ctx.in, "NextToken"); token && !token->empty()) {
    auto raw = base64_decode(*token);
    if (!raw) return SqsFault{SqsCode::kInvalidParameterValue, "Invalid NextToken value."};
    after = *raw;
  }
  Value urls(rapidjson::kArrayType);
  const auto queues = ctx.queues.list(ctx.region, json::string_member(ctx.in, "QueueNamePrefix").value_or(""));
  const long long limit = max->value_or(1000);
  std::string last;
  bool more = false;
  for (const auto* q : queues) {
    if (!after.empty() && q->name <= after) continue;
    if (static_cast<long long>(urls.Size()) >= limit) {
      more = true;
      break;
    }
    urls.PushBack(json::string_value(ctx.url_of(*q), a), a);
    last = q->name;
  }
  if (urls.Size() > 0 || ctx.protocol == Protocol::kQuery) ctx.out.AddMember("QueueUrls", urls, a);
  if (more && *max) ctx.out.AddMember("NextToken", json::string_value(base64_encode(last), a), a);
  return Answer::kNow;
}

OpResult delete_queue(OpContext& ctx) {
  auto q = ctx.queue();
  if (!q) return q.error();
  if (auto r = ctx.queues.delete_queue(ctx.c, **q); !r) return sqs_fault(r.error());
  return Answer::kNow;
}

OpResult get_queue_attributes(OpContext& ctx) {
  auto q = ctx.queue();
  if (!q) return q.error();
  auto attrs = ctx.queues.get_attributes(**q, json::string_list(ctx.in, "AttributeNames"), ctx.now);
  if (!attrs) return sqs_fault(attrs.error());
  if (!attrs->empty()) ctx.out.AddMember("Attributes", json::map_value(*attrs, ctx.alloc()), ctx.alloc());
  return Answer::kNow;
}

OpResult set_queue_attributes(OpContext& ctx) {
  auto q = ctx.queue();
  if (!q) return q.error();
  auto attrs = string_map(ctx.in, "Attributes");
  if (!attrs) return attrs.error();
  if (auto r = ctx.queues.set_attributes(ctx.c, **q, *attrs, ctx.now); !r) return sqs_fault(r.error());
  return Answer::kNow;
}

OpResult purge_queue(OpContext& ctx) {
  auto q = ctx.queue();
  if (!q) return q.error();
  if (auto r = ctx.queues.purge(ctx.c, **q, ctx.now); !r) return sqs_fault(r.error());
  return Answer::kNow;
}

OpResult tag_queue(OpContext& ctx) {
  auto q = ctx.queue();
  if (!q) return q.error();
  auto tags = string_map(ctx.in, "Tags");
  if (!tags) return tags.error();
  if (auto r = ctx.queues.tag(ctx.c, **q, *tags); !r) return sqs_fault(r.error());
  return Answer::kNow;
}

OpResult untag_queue(OpContext& ctx) {
  auto q = ctx.queue();
  if (!q) return q.error();
  if (auto r = ctx.queues.untag(ctx.c, **q, json::string_list(ctx.in, "TagKeys")); !r) return sqs_fault(r.error());
  return Answer::kNow;
}

OpResult list_queue_tags(OpContext& ctx) {
  auto q = ctx.queue();
  if (!q) return q.error();
  if (!(*q)->tags.empty()) ctx.out.AddMember("Tags", json::map_value((*q)->tags, ctx.alloc()), ctx.alloc());
  return Answer::kNow;
}

}  // namespace esm::api::sqs_wire
