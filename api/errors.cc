#include "api/errors.h"

#include "api/model_check.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace esm::api {
namespace {

struct ErrorShape {
  int status;
  const char* type;
  const char* type_member;  // "Type" value, or nullptr when AWS sends none
  const char* message_member;
};

ErrorShape shape_of(Code code) {
  switch (code) {
    case Code::kInvalidParameter: return {400, "InvalidParameterValueException", "User", "message"};
    case Code::kValidation: return {400, "ValidationException", nullptr, "message"};
    case Code::kNotFound: return {404, "ResourceNotFoundException", "User", "Message"};
    case Code::kConflict: return {409, "ResourceConflictException", "User", "message"};
    case Code::kInUse: return {400, "ResourceInUseException", "User", "Message"};
    case Code::kTooLarge: return {413, "RequestEntityTooLargeException", "User", "message"};
    case Code::kUnknownOperation: return {404, "UnknownOperationException", nullptr, "message"};
    case Code::kOk:
    case Code::kInternal: break;
  }
  return {500, "ServiceException", "Service", "Message"};
}

}  // namespace

Response lambda_error(const Status& s) {
  const ErrorShape shape = shape_of(s.code());
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  if (shape.type_member) {
    w.Key("Type");
    w.String(shape.type_member);
  }
  w.Key(shape.message_member);
  w.String(s.message());
  w.EndObject();
  Response r;
  r.status = shape.status;
  r.headers.emplace_back("X-Amzn-Errortype", shape.type);
  r.body.assign(buf.GetString(), buf.GetSize());
  return r;
}

Response lambda_access_denied(const std::string& message) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("Type");
  w.String("User");
  w.Key("Message");
  w.String(message);
  w.EndObject();
  Response r;
  r.status = 403;
  r.headers.emplace_back("X-Amzn-Errortype", "AccessDeniedException");
  r.body.assign(buf.GetString(), buf.GetSize());
  return r;
}

std::string validation_message(const std::string& value, const std::string& member, const std::string& constraint,
                               bool value_is_null) {
  ModelCheck ck;
  ck.violation(value_is_null ? "null" : ModelCheck::quoted(value), member, constraint);
  return ck.message();
}

std::string printable(std::string_view s) {
  std::string out(s.substr(0, 256));
  for (char& c : out)
    if (c < 0x20 || c > 0x7E) c = '?';
  return out;
}

}  // namespace esm::api
