#pragma once
// The SQS front-end's operation table: one function per operation, each given an OpContext
// inside the DbWorker job that serves the request. An operation writes its answer's members
// into ctx.out (sent after the commit) or, for ReceiveMessage, answers through ctx.reply
// itself once the queue engine calls back after the commit.
//
// queue_ops.cc: the queue operations; message_ops.cc: SendMessage, ReceiveMessage,
// DeleteMessage, ChangeMessageVisibility; batch_ops.cc: the three batch operations.

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/errors.h"
#include "api/http.h"
#include "api/sqs/protocol.h"
#include "core/expected.h"
#include "services/sqs/queue_engine.h"
#include "storage/sqlite.h"

namespace esm::api::sqs_wire {

using rapidjson::Value;
using Alloc = rapidjson::Document::AllocatorType;
using sqs::Queue;
using sqs::QueueEngine;

struct OpContext {
  storage::Connection& c;
  QueueEngine& queues;
  const Value& in;
  rapidjson::Document& out;
  std::int64_t now;
  std::string op;
  Protocol protocol;
  std::string region;
  std::string host;
  std::string sender;
  std::string account;
  std::string request_id;
  Reply reply;

  Alloc& alloc() { return out.GetAllocator(); }
  std::string url_of(const Queue& q) const { return "http://" + host + "/" + q.account + "/" + q.name; }
  // The queue QueueUrl names, in this request's region.
  Expected<Queue*, SqsFault> queue();
};

enum class Answer {
  kNow,    // ctx.out is the answer, sent after the commit
  kLater,  // the operation answers through ctx.reply after the commit
};
using OpResult = Expected<Answer, SqsFault>;
using Operation = OpResult (*)(OpContext&);

// The operation of this name; nullptr when SQS has none.
Operation find_operation(const std::string& name);

OpResult create_queue(OpContext& ctx);
OpResult get_queue_url(OpContext& ctx);
OpResult list_queues(OpContext& ctx);
OpResult delete_queue(OpContext& ctx);
OpResult get_queue_attributes(OpContext& ctx);
OpResult set_queue_attributes(OpContext& ctx);
OpResult purge_queue(OpContext& ctx);
OpResult tag_queue(OpContext& ctx);
OpResult untag_queue(OpContext& ctx);
OpResult list_queue_tags(OpContext& ctx);

OpResult send_message(OpContext& ctx);
OpResult receive_message(OpContext& ctx);
OpResult delete_message(OpContext& ctx);
OpResult change_message_visibility(OpContext& ctx);

OpResult send_message_batch(OpContext& ctx);
OpResult delete_message_batch(OpContext& ctx);
OpResult change_message_visibility_batch(OpContext& ctx);

// ---- request members (input.cc) ------------------------------------------------------------

// An integer member, also as a numeric string (the query protocol sends only strings).
Expected<std::optional<long long>, SqsFault> integer(const Value& o, const char* name);
Expected<std::map<std::string, std::string>, SqsFault> string_map(const Value& o, const char* name);
// SendMessage's members (also a SendMessageBatch entry's) as the queue service takes them.
Expected<sqs::SendInput, SqsFault> send_input(const Value& e, const std::string& sender);
// The signer's access key id (SenderId), or esmd's stand-in for an unsigned request.
std::string sender_id_of(const Request& req);
// The queue name from a QueueUrl (http://host/ACCOUNT/NAME), checked against our account.
Expected<std::string, SqsFault> queue_name_from_url(const std::string& url, const std::string& account);
// A batch call's Entries: present, at most 10, distinct valid ids.
Expected<const Value*, SqsFault> batch_entries(const Value& in, const char* entry_shape);

// SendMessage's answer members (also a SendMessageBatch entry's).
Value send_result_json(const sqs::SendResult& r, Alloc& a);

}  // namespace esm::api::sqs_wire
