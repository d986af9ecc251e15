#include "api/admin_api.h"

#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <optional>

#include "api/errors.h"
#include "core/arn.h"
#include "core/json_depth.h"
#include "storage/function_store.h"

namespace esm::api {
namespace {

constexpr std::string_view kFunctions = "/_esmd/functions";
constexpr std::string_view kInvocations = "/_esmd/invocations";
constexpr std::string_view kInvokeSuffix = "/invoke";
constexpr std::uint64_t kMaxInvocationsLimit = 10000;

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void string_or_null(JsonWriter& w, const std::string& s) {
  if (s.empty()) {
    w.Null();
  } else {
    w.String(s);
  }
}

bool is_json_document(const std::string& s) {
  rapidjson::MemoryStream ms(s.data(), s.size());
  rapidjson::BaseReaderHandler<> ignore;
  rapidjson::Reader reader;
  return !reader.Parse(ms, ignore).IsError();
}

// The fields an invocation outcome shows in both the invoke answer and the log.
void write_outcome_fields(JsonWriter& w, const InvokeOutcome& o) {
  w.Key("Outcome");
  const auto name = outcome_name(o.status);
  w.String(name.data(), static_cast<rapidjson::SizeType>(name.size()));
  w.Key("StatusCode");
  w.Int(o.http_status);
  w.Key("FunctionError");
  string_or_null(w, o.function_error);
  w.Key("ExecutedVersion");
  w.String(o.executed_version);
  w.Key("RequestId");
  w.String(o.request_id);
  w.Key("DurationMs");
  w.Int64(o.duration_ms);
  w.Key("Detail");
  string_or_null(w, o.detail);
}

void write_invocation(JsonWriter& w, const InvocationRecord& r) {
  w.StartObject();
  w.Key("Seq");
  w.Uint64(r.seq);
  w.Key("Time");
  w.Int64(r.time_ms);
  w.Key("FunctionArn");
  w.String(r.function_arn);
  w.Key("MappingUuid");
  string_or_null(w, r.mapping_uuid);
  w.Key("Event");
  if (is_json_document(*r.event)) {
    w.RawValue(r.event->data(), r.event->size(), rapidjson::kObjectType);
  } else {
    w.String(*r.event);
  }
  write_outcome_fields(w, r.outcome);
  w.Key("Response");
  w.String(r.outcome.payload);
  w.EndObject();
}

std::optional<std::uint64_t> parse_uint(const std::string& s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

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
  if (json_depth_within(body)) d.Parse(body.c_str(), body.size());
  if (!json_depth_within(body) || d.HasParseError() || !d.IsObject())
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

Response exec_over_api_refused(const std::string& name) {
  return lambda_access_denied("Function " + name +
                       ": exec: targets run commands, so only the operator names them (--function, ESMD_FUNCTION "
                       "or --functions-file); start esmd with --allow-api-exec to register them over HTTP");
}

Result<InvocationQuery> parse_invocation_query(const Request& req) {
  InvocationQuery q;
  if (const std::string* f = req.query_param("function")) q.function = *f;
  if (const std::string* m = req.query_param("mapping")) q.mapping = *m;
  if (const std::string* l = req.query_param("limit")) {
    auto v = parse_uint(*l);
    if (!v || *v < 1 || *v > kMaxInvocationsLimit)
      return invalid_parameter("limit must be an integer between 1 and " + std::to_string(kMaxInvocationsLimit));
    q.limit = static_cast<std::size_t>(*v);
  }
  if (const std::string* s = req.query_param("since")) {
    auto v = parse_uint(*s);
    if (!v) return invalid_parameter("since must be a non-negative integer (an invocation Seq)");
    q.since = *v;
  }
  return q;
}

std::string invocation_json(const InvocationRecord& r) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  write_invocation(w, r);
  return {buf.GetString(), buf.GetSize()};
}

void AdminApi::list_invocations(const Request& req, Reply reply) {
  auto q = parse_invocation_query(req);
  if (!q) return reply(lambda_error(q.status()));
  // last_seq before the query: an entry appended in between shows up in the next `since` call.
  const std::uint64_t last = invocations_.last_seq();
  auto entries = invocations_.query(*q);
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("Invocations");
  w.StartArray();
  for (const auto& e : entries) write_invocation(w, *e);
  w.EndArray();
  w.Key("LastSeq");
  w.Uint64(last);
  w.EndObject();
  reply(json(200, buf));
}

void AdminApi::invoke(const std::string& name, Request& req, Reply reply) {
  if (!functions_.find(name)) return reply(lambda_error(not_found("Function not found: " + name)));
  std::string qualifier;
  if (const std::string* ql = req.query_param("Qualifier")) qualifier = *ql;
  InvokeRequest ir;
  ir.function_arn = function_arn(req.region, account_, name, qualifier);
  if (!parse_function_ref(ir.function_arn))
    return reply(lambda_error(invalid_parameter("Invalid Qualifier: " + qualifier)));
  ir.payload = req.body.empty() ? "{}" : std::move(req.body);
  invoker_.invoke(std::move(ir), [reply](InvokeOutcome o) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    write_outcome_fields(w, o);
    w.Key("Payload");
    w.String(o.payload);
    w.EndObject();
    reply(json(200, buf));
  });
}

void AdminApi::list_destinations(const Request& req, Reply reply) {
  const std::string* arn = req.query_param("arn");
  std::vector<DestinationEntry> entries;
  if (destinations_) entries = destinations_->list(arn ? *arn : std::string());
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("Entries");
  w.StartArray();
  for (const auto& e : entries) {
    w.StartObject();
    w.Key("Seq");
    w.Uint64(e.seq);
    w.Key("Time");
    w.Int64(e.time_ms);
    w.Key("Arn");
    w.String(e.arn);
    w.Key("MappingUUID");
    w.String(e.mapping_uuid);
    w.Key("Key");
    w.String(e.key);
    w.Key("Body");
    w.String(e.body);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  reply(json(200, buf));
}

void AdminApi::handle(Request req, Reply reply) {
  const std::string& method = req.method;
  if (req.path == "/_esmd/health") {
    if (method != "GET" && method != "HEAD")
      return reply(lambda_error({Code::kUnknownOperation, "Unknown operation: " + method + " " + req.path}));
    Response r;
    r.body = R"({"status":"ok","version":")" + version_ + "\"";
    if (health_extra_)
      if (std::string extra = health_extra_(); !extra.empty()) r.body += "," + extra;
    r.body += "}";
    return reply(std::move(r));
  }
  std::string_view path = req.path;
  if (path == kInvocations || path == std::string(kInvocations) + "/") {
    if (method == "GET") return list_invocations(req, std::move(reply));
    if (method == "DELETE") {
      invocations_.clear();
      Response r;
      r.status = 204;
      r.content_type.clear();
      return reply(std::move(r));
    }
  }
  if ((path == "/_esmd/destinations" || path == "/_esmd/destinations/") && method == "GET")
    return list_destinations(req, std::move(reply));
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
    if (rest.size() > kInvokeSuffix.size() + 1 && rest.front() == '/' && rest.ends_with(kInvokeSuffix)) {
      if (method != "POST")
        return reply(lambda_error({Code::kUnknownOperation, "Unknown operation: " + method + " " + req.path}));
      std::string name(rest.substr(1, rest.size() - 1 - kInvokeSuffix.size()));
      return invoke(name, req, std::move(reply));
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
        if (auto kind = parse_target(spec->target); !allow_exec_ && kind && *kind == TargetKind::kExec)
          return reply(exec_over_api_refused(name));
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
        }, [reply](const Status& s) { reply(lambda_error(s)); });
        return;
      }
      if (method == "DELETE") {
        db_.submit([this, name, reply](storage::Connection& c) -> storage::DbWorker::Done {
          Status s = storage::delete_function(c, name);
          return [this, name, s, reply](const Status& commit) {
            if (!commit.is_ok()) return reply(lambda_error(commit));
            // A function given on the command line is not in the table; removing it is fine too.
            const bool known = functions_.remove(name);
            if (!s.is_ok() && !known) return reply(lambda_error(s));
            Response r;
            r.status = 204;
            r.content_type.clear();
            reply(std::move(r));
          };
        }, [reply](const Status& s) { reply(lambda_error(s)); });
        return;
      }
    }
  }
  reply(lambda_error({Code::kUnknownOperation, "Unknown operation: " + method + " " + req.path}));
}

}  // namespace esm::api
