#pragma once
// The Kinesis front-end's operation table: each operation is a model check (on the I/O
// thread, before any work is queued) and a run (in a DbWorker job, on the StreamEngine) that
// answers with a JSON body or a wire error. Grouped by what they touch: stream_ops.cc,
// record_ops.cc, iterator_ops.cc, tag_ops.cc; protocol.cc dispatches.

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/kinesis/wire.h"
#include "core/expected.h"
#include "services/kinesis/stream_engine.h"

namespace esm::api::kinesis_wire {

using rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
using Puts = std::vector<esm::kinesis::StreamEngine::PutInput>;

// One request, inside its DbWorker job.
struct Call {
  esm::kinesis::StreamEngine& streams;
  storage::Connection& c;
  const Value& in;  // the request; an empty object for the puts, parsed whole into `puts`
  Puts& puts;
  const std::string& region;
  const std::optional<std::string>& stream_name;
  const std::optional<std::string>& stream_arn;
  std::int64_t now;

  // The stream the request names (StreamARN wins over StreamName).
  esm::kinesis::Expected<esm::kinesis::Stream*> stream() const {
    return streams.resolve(region, stream_name, stream_arn);
  }
};

// The answer's body (empty for operations that answer with none), or an error.
using Outcome = esm::Expected<std::string, WireError>;

struct Operation {
  bool read = false;  // changes nothing that must be synced: runs in a relaxed job
  std::optional<WireError> (*validate)(const Value& in, Puts& puts) = nullptr;
  Outcome (*run)(Call& call) = nullptr;
};
using OperationTable = std::map<std::string, Operation, std::less<>>;

void add_stream_ops(OperationTable& table);
void add_record_ops(OperationTable& table);
void add_iterator_ops(OperationTable& table);
void add_tag_ops(OperationTable& table);

// The member as a string / an integer, when it is one (the model check ran before).
std::optional<std::string> str(const Value& o, const char* name);
std::optional<long long> integer(const Value& o, const char* name);
WireError invalid_argument(std::string message);

void put_string(Writer& w, const char* key, std::string_view v);
// Epoch seconds with a millisecond fraction, as the JSON protocol carries timestamps.
void put_time(Writer& w, const char* key, std::int64_t ms);
// A JSON object whose members fill() writes.
std::string object_body(const std::function<void(Writer&)>& fill);

}  // namespace esm::api::kinesis_wire
