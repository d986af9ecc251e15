// KinesisApi::handle: the JSON 1.1 envelope (target header, body parse), the operation table
// and the job that runs an operation and answers after the commit; and the helpers the
// operations share.

#include <spdlog/spdlog.h>

#include <memory>

#include "api/kinesis/kinesis_api.h"
#include "api/kinesis/ops.h"

namespace esm::api {
namespace kinesis_wire {

std::optional<std::string> str(const Value& o, const char* name) {
  auto it = o.FindMember(name);
  if (it == o.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::optional<long long> integer(const Value& o, const char* name) {
  auto it = o.FindMember(name);
  if (it == o.MemberEnd() || !it->value.IsInt64()) return std::nullopt;
  return it->value.GetInt64();
}

WireError invalid_argument(std::string message) { return {ErrorType::kInvalidArgument, std::move(message)}; }

void put_string(Writer& w, const char* key, std::string_view v) {
  w.Key(key);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

void put_time(Writer& w, const char* key, std::int64_t ms) {
  w.Key(key);
  w.Double(static_cast<double>(ms) / 1000.0);
}

std::string object_body(const std::function<void(Writer&)>& fill) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  fill(w);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

namespace {

constexpr std::string_view kTargetPrefix = "Kinesis_20131202.";

// What a put's job sees as its request: the put was parsed whole on the I/O thread.
const Value& empty_object() {
  static const Value empty(rapidjson::kObjectType);
  return empty;
}

const OperationTable& operations() {
  static const OperationTable table = [] {
    OperationTable t;
    add_stream_ops(t);
    add_record_ops(t);
    add_iterator_ops(t);
    add_tag_ops(t);
    return t;
  }();
  return table;
}

}  // namespace
}  // namespace kinesis_wire

using namespace kinesis_wire;

bool KinesisApi::matches(const Request& req) { return req.header("x-amz-target").starts_with(kTargetPrefix); }

void KinesisApi::handle(Request req, Reply reply) {
  const std::string_view name = req.header("x-amz-target").substr(kTargetPrefix.size());
  const auto found = operations().find(name);
  if (found == operations().end()) return reply(error_response(unknown_operation(name)));
  const Operation& op = found->second;
  // Puts, the hot path, are parsed whole here into PutInputs, in a document whose memory is on
  // the stack; the other operations hand their document to the job.
  const bool is_put = name == "PutRecord" || name == "PutRecords";
  char pool_buffer[8192];
  rapidjson::MemoryPoolAllocator<> pool(pool_buffer, sizeof pool_buffer);
  rapidjson::Document local(&pool);
  auto in = is_put ? std::shared_ptr<rapidjson::Document>() : std::make_shared<rapidjson::Document>();
  rapidjson::Document& doc = is_put ? local : *in;
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    doc.SetObject();
  } else {
    // Iterative: a body of deeply nested brackets must not overflow the I/O thread's stack.
    doc.Parse<rapidjson::kParseIterativeFlag>(req.body.c_str(), req.body.size());
    if (doc.HasParseError() || !doc.IsObject())
      return reply(error_response({ErrorType::kSerialization, "The request body is not a valid JSON object."}));
  }
  auto puts = std::make_shared<Puts>();
  if (auto e = op.validate(doc, *puts)) return reply(error_response(*e));
  spdlog::debug("kinesis {}", name);
  // Checked by validate: strings when present.
  const std::optional<std::string> stream_name = str(doc, "StreamName");
  const std::optional<std::string> stream_arn = str(doc, "StreamARN");

  auto job = [this, run = op.run, in, puts, region = req.region, stream_name, stream_arn,
              reply](storage::Connection& c) mutable -> storage::DbWorker::Done {
    Call call{streams_, c, in ? static_cast<const Value&>(*in) : empty_object(), *puts, region, stream_name, stream_arn, clock_.now_ms()};
    Outcome out = run(call);
    if (!out) return [reply, r = error_response(out.error())](const Status&) { reply(r); };
    auto resp = std::make_shared<Response>(json_response(std::move(*out)));
    return [reply, resp](const Status& commit) {
      // Nothing is acknowledged, and nothing read is shown, unless the group committed: a read
      // may have seen a record the failed group appended.
      if (!commit.is_ok())
        return reply(error_response({ErrorType::kInternalFailure, "The change could not be saved: " + commit.message()}));
      reply(std::move(*resp));
    };
  };
  auto refused = [reply](const Status& s) { reply(error_response({ErrorType::kInternalFailure, s.message()})); };
  if (op.read) db_.submit_relaxed(std::move(job), std::move(refused));
  else db_.submit(std::move(job), std::move(refused));
}

}  // namespace esm::api
