// The Kinesis front-end's request decoding, as KinesisApi::handle does it on the I/O thread:
// the JSON 1.1 body parsed (iteratively, within a stack pool for the puts), then the
// operation's model check (api/kinesis/checker.h), which for PutRecord/PutRecords also decodes
// the records (base64 data, hash keys) into PutInputs; a refusal is written as the wire error.
// Byte 0 picks the operation; the rest is the body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "api/kinesis/checker.h"
#include "api/kinesis/ops.h"
#include "api/kinesis/wire.h"

using namespace esm::api::kinesis_wire;

namespace {

const OperationTable& table() {
  static const OperationTable t = [] {
    OperationTable ops;
    add_stream_ops(ops);
    add_record_ops(ops);
    add_iterator_ops(ops);
    add_tag_ops(ops);
    return ops;
  }();
  return t;
}

const std::vector<const Operation*>& by_index() {
  static const std::vector<const Operation*> v = [] {
    std::vector<const Operation*> out;
    for (const auto& [_, op] : table()) out.push_back(&op);
    return out;
  }();
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Operation& op = *by_index()[data[0] % by_index().size()];
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  char pool_buffer[8192];
  rapidjson::MemoryPoolAllocator<> pool(pool_buffer, sizeof pool_buffer);
  rapidjson::Document doc(&pool);
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
    doc.SetObject();
  } else {
    doc.Parse<rapidjson::kParseIterativeFlag>(body.c_str(), body.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      (void)error_response({ErrorType::kSerialization, "The request body is not a valid JSON object."});
      return 0;
    }
  }
  Puts puts;
  if (auto e = op.validate(doc, puts)) {
    (void)error_response(*e);
    return 0;
  }
  (void)str(doc, "StreamName");
  (void)str(doc, "StreamARN");
  return 0;
}
