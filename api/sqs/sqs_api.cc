#include "api/sqs/sqs_api.h"

#include <spdlog/spdlog.h>

#include <map>
#include <memory>

#include "api/sqs/operation.h"

namespace esm::api {

namespace sqs_wire {

Operation find_operation(const std::string& name) {
  static const std::map<std::string, Operation, std::less<>> kOperations = {
      {"CreateQueue", create_queue},
      {"GetQueueUrl", get_queue_url},
      {"ListQueues", list_queues},
      {"DeleteQueue", delete_queue},
      {"GetQueueAttributes", get_queue_attributes},
      {"SetQueueAttributes", set_queue_attributes},
      {"PurgeQueue", purge_queue},
      {"TagQueue", tag_queue},
      {"UntagQueue", untag_queue},
      {"ListQueueTags", list_queue_tags},
      {"SendMessage", send_message},
      {"SendMessageBatch", send_message_batch},
      {"ReceiveMessage", receive_message},
      {"DeleteMessage", delete_message},
      {"DeleteMessageBatch", delete_message_batch},
      {"ChangeMessageVisibility", change_message_visibility},
      {"ChangeMessageVisibilityBatch", change_message_visibility_batch},
  };
  auto it = kOperations.find(name);
  return it == kOperations.end() ? nullptr : it->second;
}

}  // namespace sqs_wire

bool SqsApi::matches(const Request& req) {
  if (req.header("x-amz-target").starts_with("AmazonSQS.")) return true;
  if (req.query_param("Action")) return true;
  if (req.method == "POST" && req.header("content-type").starts_with("application/x-www-form-urlencoded"))
    return req.body.starts_with("Action=") || req.body.find("&Action=") != std::string::npos;
  return false;
}

void SqsApi::handle(Request req, Reply reply) {
  sqs_wire::ParsedRequest parsed;
  if (SqsFault fault; !sqs_wire::parse_request(req, parsed, fault))
    return reply(sqs_wire::error_response(parsed.protocol, fault, req.request_id));
  const sqs_wire::Protocol protocol = parsed.protocol;
  const sqs_wire::Operation operation = sqs_wire::find_operation(parsed.op);
  if (!operation) {
    const SqsFault f{SqsCode::kInvalidAction, parsed.op.empty() ? "The request must contain the parameter Action."
                                                                 : "The action " + sqs_printable(parsed.op) +
                                                                       " is not valid for this endpoint."};
    return reply(sqs_wire::error_response(protocol, f, req.request_id));
  }
  spdlog::debug("sqs {} ({})", parsed.op, protocol == sqs_wire::Protocol::kJson ? "json" : "query");
  std::string host(req.header("host"));
  if (host.empty()) host = "localhost";
  db_.submit(
      [this, operation, parsed, host, sender = sqs_wire::sender_id_of(req), region = req.region,
       request_id = req.request_id, reply](storage::Connection& c) -> storage::DbWorker::Done {
        auto out = std::make_shared<rapidjson::Document>(rapidjson::kObjectType);
        sqs_wire::OpContext ctx{c,      queues_, *parsed.in, *out,     clock_.now_ms(), parsed.op, parsed.protocol,
                                region, host,    sender,     account_, request_id,      reply};
        const sqs_wire::OpResult r = operation(ctx);
        if (!r)
          return [reply, resp = sqs_wire::error_response(parsed.protocol, r.error(), request_id)](const Status&) {
            reply(resp);
          };
        if (*r == sqs_wire::Answer::kLater) return nullptr;
        return [reply, out, protocol = parsed.protocol, op = parsed.op, request_id](const Status& commit) {
          if (!commit.is_ok())
            return reply(sqs_wire::error_response(
                protocol, {SqsCode::kInternalError, "The change could not be saved: " + commit.message()}, request_id));
          reply(sqs_wire::ok_response(protocol, op, *out, request_id));
        };
      },
      [reply, protocol, request_id = req.request_id](const Status& s) {
        reply(sqs_wire::error_response(protocol, sqs_fault(s), request_id));
      });
}

}  // namespace esm::api
