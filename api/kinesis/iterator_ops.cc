// GetShardIterator.

#include "api/kinesis/checker.h"
#include "api/kinesis/ops.h"

namespace esm::api::kinesis_wire {
namespace {

using esm::kinesis::IteratorType;

std::optional<WireError> check_get_shard_iterator(const Value& in, Puts&) {
  Checker c(in);
  c.stream_ref();
  c.string("ShardId", "shardId", true, 1, 128, kNamePattern, is_name);
  c.enumeration("ShardIteratorType", "shardIteratorType", true,
                {"AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"});
  c.string("StartingSequenceNumber", "startingSequenceNumber", false, 0, SIZE_MAX, kSequencePattern,
           is_sequence_number);
  c.timestamp("Timestamp");
  return c.error();
}

// The model check admitted only these five names.
IteratorType iterator_type(const std::string& name) {
  if (name == "TRIM_HORIZON") return IteratorType::kTrimHorizon;
  if (name == "LATEST") return IteratorType::kLatest;
  if (name == "AT_SEQUENCE_NUMBER") return IteratorType::kAtSequenceNumber;
  if (name == "AFTER_SEQUENCE_NUMBER") return IteratorType::kAfterSequenceNumber;
  return IteratorType::kAtTimestamp;
}

Outcome get_shard_iterator(Call& call) {
  auto sr = call.stream();
  if (!sr) return describe(sr.error());
  const esm::kinesis::Stream& s = **sr;
  auto shard = call.streams.shard_index(s, *str(call.in, "ShardId"));
  if (!shard) return describe(shard.error());
  // Checked on the I/O thread: a well-formed time when present.
  Checker times(call.in);
  auto index = call.streams.start_index(s, *shard, iterator_type(*str(call.in, "ShardIteratorType")),
                                        str(call.in, "StartingSequenceNumber"), times.timestamp("Timestamp"),
                                        call.now);
  if (!index) return describe(index.error());
  return object_body(
      [&](Writer& w) { put_string(w, "ShardIterator", call.streams.make_iterator(s, *shard, *index, call.now)); });
}

}  // namespace

void add_iterator_ops(OperationTable& table) {
  table["GetShardIterator"] = {true, check_get_shard_iterator, get_shard_iterator};
}

}  // namespace esm::api::kinesis_wire
