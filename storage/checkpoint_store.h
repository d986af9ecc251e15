#pragma once
// CheckpointStore: where each mapping of a partitioned source resumes, per partition (table
// checkpoints): a Kinesis shard's next record index, a Kafka topic-partition's next offset.
// Rows only, no source semantics. Stateless: every call takes the Connection (owned by
// DbWorker, so only the worker thread calls these).
//
// A checkpoint is keyed by (mapping, source, partition). Its position is an integer (an index
// or an offset) or, for a source whose positions are not numbers, text; `state` is what the
// poller keeps with it (a Kinesis tumbling window's JSON); `epoch` names the incarnation of the
// source it was written for (Kinesis: Stream::id, never reused, so a stream deleted and
// recreated under the same ARN is told apart; 0 when unknown).
//
// Writes are poller jobs (DbWorker::submit_relaxed): they survive kill -9 through the WAL; a
// power cut may lose the last ones, which only means a redelivery (at least once).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/sqlite.h"

namespace esm::storage {

struct Checkpoint {
  std::string partition;  // "shardId-000000000000", a Kafka partition number
  std::string source;     // the source's ARN (a stream; later a Kafka topic)
  std::int64_t position = 0;              // the next integer position to process
  std::optional<std::string> state;       // the poller's state kept with the position
  std::int64_t epoch = 0;                 // the source's incarnation; 0: unknown
  std::optional<std::string> position_text;  // set instead of `position` for a text position
};

// The mapping's checkpoints in `source`, ordered by partition. OK with no rows means the
// mapping has no checkpoint there yet; an error means the rows could not be read (the caller
// must not take it for "none" and apply a starting position over a checkpoint it did not see).
Result<std::vector<Checkpoint>> load_checkpoints(Connection& c, const std::string& mapping_uuid,
                                                 const std::string& source);
// Writes the checkpoint, unless the mapping is gone (a late write after a delete is dropped).
Status save_checkpoint(Connection& c, const std::string& mapping_uuid, const Checkpoint& cp);
Status delete_checkpoints(Connection& c, const std::string& mapping_uuid);

}  // namespace esm::storage
