#include "api/admin_api.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "api/errors.h"
#include "storage/function_store.h"

namespace esm::api {
namespace {

constexpr std::string_view kFunctions = "/_esmd/functions";

void write_spec(rapidjson::Writer<rapidjson::StringBuffer>& w, const FunctionSpec& f) {
  w.StartObject();
  w.Key("Name");
  w.String(f.name);
  w.Key("Target");
  w.String(f.target);
  w.Key("Timeout");
  w.Double(f.timeout_ms / 1000.0);
  w.Key("Concurrency");
  w.Int(f.concurrency);
  w.EndObject();
}

Response json(int status, const rapidjson::StringBuffer& buf) {
  Response r;
  r.status = status;
  r.body.assign(buf.GetString(), buf.GetSize());
  return r;
}

}  // namespace

Result<FunctionSpec> parse_function_registration(const std::string& name, const std::string& body) {
  if (!is_valid_function_name(name))
    return invalid_parameter("Invalid function name '" + name + "': use 1 to 64 of A-Z a-z 0-9 - _");
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  if (d.HasParseError() || !d.IsObject())
    return invalid_parameter("Could not parse request body into json: expected {\"Target\": \"...\"}");
  FunctionSpec f;
  f.name = name;
  auto t = d.FindMember("Target");
  if (t == d.MemberEnd() || !t->value.IsString()) return invalid_parameter("Target is required and must be a string");
  f.target = t->value.GetString();
  if (auto k = parse_target(f.target); !k) return k.status();
  if (auto to = d.FindMember("Timeout"); to != d.MemberEnd()) {
    if (!to->value.IsNumber() || to->value.GetDouble() <= 0 || to->value.GetDouble() > 900)
      return invalid_parameter("Timeout must be a number of seconds between 0 and 900");
    f.timeout_ms = static_cast<int>(to->value.GetDouble() * 1000);
  }
  if (auto c = d.FindMember("Concurrency"); c != d.MemberEnd()) {
    if (!c->value.IsInt() || c->value.GetInt() < 1 || c->value.GetInt() > 1000)
      return invalid_parameter("Concurrency must be an integer between 1 and 1000");
    f.concurrency = c->value.GetInt();
  }
  return f;
}

void AdminApi::handle(Request req, Reply reply) {
  const std::string& method = req.method;
  if (req.path == "/_esmd/health") {
    if (method != "GET" && method != "HEAD")
      return reply(lambda_error({Code::kUnknownOperation, "Unknown operation: " + method + " " + req.path}));
    Response r;
    r.body = R"({"status":"ok","version":")" + version_ + "\"}";
    return reply(std::move(r));
  }
  std::string_view path = req.path;
  if (path.starts_with(kFunctions)) {
    std::string_view rest = path.substr(kFunctions.size());
    if ((rest.empty() || rest == "/") && method == "GET") {
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      w.StartObject();
      w.Key("Functions");
      w.StartArray();
      for (const auto& f : functions_.list()) write_spec(w, f);
      w.EndArray();
      w.EndObject();
      return reply(json(200, buf));
    }
    if (rest.size() > 1 && rest.front() == '/') {
      std::string name(rest.substr(1));
      if (method == "GET") {
        auto f = functions_.find(name);
        if (!f) return reply(lambda_error(not_found("Function not found: " + name)));
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        write_spec(w, *f);
        return reply(json(200, buf));
      }
      if (method == "PUT") {
        auto spec = parse_function_registration(name, req.body);
        if (!spec) return reply(lambda_error(spec.status()));
        db_.submit([this, f = *spec, reply](storage::Connection& c) -> storage::DbWorker::Done {
          Status s = storage::put_function(c, f);
          return [this, f, s, reply](const Status& commit) {
            if (!s.is_ok() || !commit.is_ok()) return reply(lambda_error(s.is_ok() ? commit : s));
            functions_.put(f);
            rapidjson::StringBuffer buf;
            rapidjson::Writer<rapidjson::StringBuffer> w(buf);
            write_spec(w, f);
            reply(json(200, buf));
          };
        });
        return;
      }
      if (method == "DELETE") {
        db_.submit([this, name, reply](storage::Connection& c) -> storage::DbWorker::Done {
          Status s = storage::delete_function(c, name);
          return [this, name, s, reply](const Status& commit) {
            // A function given on the command line is not in the table; removing it is fine too.
            const bool known = functions_.remove(name);
            if (!commit.is_ok()) return reply(lambda_error(commit));
            if (!s.is_ok() && !known) return reply(lambda_error(s));
            Response r;
            r.status = 204;
            r.content_type.clear();
            reply(std::move(r));
          };
        });
        return;
      }
    }
  }
  reply(lambda_error({Code::kUnknownOperation, "Unknown operation: " + method + " " + req.path}));
}

}  // namespace esm::api
