#pragma once
// The two SQS wire protocols on esmd's one port: the JSON protocol (X-Amz-Target:
// AmazonSQS.<Op>, used by current boto3 and AWS CLI v1) and the query protocol (Action=<Op>,
// form-encoded, XML answers; older SDKs and Debian's AWS CLI v2). Both are parsed into one
// JSON-shaped request, and answers and errors are written back in the caller's protocol.

#include <rapidjson/document.h>

#include <memory>
#include <string>

#include "api/errors.h"
#include "api/http.h"

namespace esm::api::sqs_wire {

enum class Protocol { kJson, kQuery };

struct ParsedRequest {
  Protocol protocol = Protocol::kJson;
  std::string op;  // empty when the request names none
  std::shared_ptr<rapidjson::Document> in;  // the JSON protocol's request shape
};

// A request whose JSON body is not an object gives a fault (in the JSON protocol).
bool parse_request(const Request& req, ParsedRequest& out, SqsFault& fault);

Response ok_response(Protocol p, const std::string& op, const rapidjson::Value& out, const std::string& request_id);
Response error_response(Protocol p, const SqsFault& f, const std::string& request_id);

}  // namespace esm::api::sqs_wire
