// The SQS front-end's decoders: the JSON protocol (X-Amz-Target: AmazonSQS.<Op>, a JSON body)
// and the query protocol (Action=<Op>&Key.1.Sub=value, in the query string and a form body)
// parsed into one JSON-shaped request (api/sqs/protocol.cc), then the request members the
// operations read (api/sqs/input.cc), and the answer written back in the caller's protocol
// with the request's own values in it (JSON, or XML for the query protocol).
//
// Input: byte 0 picks the protocol (bit 0) and, for JSON, the operation; for the query
// protocol the bytes up to the first newline are the request-target and the rest the body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "api/errors.h"
#include "api/http.h"
#include "api/sqs/operation.h"
#include "api/sqs/protocol.h"
#include "api/sqs/sqs_api.h"

using namespace esm::api;
using namespace esm::api::sqs_wire;

namespace {

constexpr const char* kOps[] = {"SendMessage",      "SendMessageBatch",   "ReceiveMessage", "DeleteMessageBatch",
                                "CreateQueue",      "SetQueueAttributes", "TagQueue",       "ChangeMessageVisibilityBatch",
                                "GetQueueAttributes", "ListQueues",       "Bogus"};

void read_members(const rapidjson::Value& in, const std::string& sender) {
  for (const char* name : {"DelaySeconds", "MaxNumberOfMessages", "WaitTimeSeconds", "VisibilityTimeout"})
    (void)integer(in, name);
  (void)string_map(in, "Attributes");
  (void)string_map(in, "Tags");
  (void)send_input(in, sender);
  if (auto url = in.FindMember("QueueUrl"); url != in.MemberEnd() && url->value.IsString())
    (void)queue_name_from_url(url->value.GetString(), "000000000000");
  if (auto entries = batch_entries(in, "SendMessageBatchRequestEntry"))
    for (const auto& e : (*entries)->GetArray()) {
      (void)send_input(e, sender);
      (void)integer(e, "VisibilityTimeout");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  Request req;
  req.method = "POST";
  req.request_id = "00000000-0000-0000-0000-000000000000";
  req.headers.emplace_back("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/sqs/aws4_request");
  if ((data[0] & 1) == 0) {
    const char* op = kOps[(data[0] >> 1) % std::size(kOps)];
    req.target = "/";
    req.headers.emplace_back("x-amz-target", std::string("AmazonSQS.") + op);
    req.headers.emplace_back("content-type", "application/x-amz-json-1.0");
    req.body = std::string(rest);
  } else {
    const auto nl = rest.find('\n');
    req.target = std::string(rest.substr(0, nl));
    req.body = nl == std::string_view::npos ? std::string() : std::string(rest.substr(nl + 1));
    req.headers.emplace_back("content-type", "application/x-www-form-urlencoded");
    if (data[0] & 2) req.method = "GET";
  }
  split_target(req);
  (void)SqsApi::matches(req);
  ParsedRequest parsed;
  SqsFault fault;
  if (!parse_request(req, parsed, fault)) {
    (void)error_response(parsed.protocol, fault, req.request_id);
    return 0;
  }
  const rapidjson::Value& in = *parsed.in;
  if (in.IsObject()) read_members(in, sender_id_of(req));
  (void)find_operation(parsed.op);
  // The answer, with whatever the request held echoed back; an error naming the operation.
  (void)ok_response(parsed.protocol, parsed.op.empty() ? "X" : parsed.op, in, req.request_id);
  (void)error_response(parsed.protocol, {SqsCode::kInvalidAction, "The action " + sqs_printable(parsed.op) + " is not valid."},
                       req.request_id);
  return 0;
}
