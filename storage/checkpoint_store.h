#pragma once
// CheckpointStore: where each stream mapping resumes, per shard (table stream_checkpoints).
// Stateless: every call takes the Connection (owned by DbWorker, so only the worker thread
// calls these). A checkpoint is the index of the first record of the shard not yet processed,
// plus the open tumbling window (its JSON as the poller wrote it), if any.
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
  std::string shard_id;
  std::string stream_arn;
  std::int64_t next_index = 0;
  std::optional<std::string> window_json;
  // Stream::id of the stream the checkpoint was written for; 0 for rows written before
  // schema version 5, when it was not recorded.
  std::int64_t stream_id = 0;
};

// The mapping's checkpoints whose stream is stream_arn (a mapping keeps one stream, but an old
// row must not place a recreated stream of another ARN), by shard id. A stream recreated under
// the same ARN is told apart by the caller, from stream_id. OK with no rows means the mapping
// has no checkpoint there yet; an error means the rows could not be read (the caller must not
// take it for "none" and apply StartingPosition over a checkpoint it did not see).
Result<std::vector<Checkpoint>> load_checkpoints(Connection& c, const std::string& mapping_uuid,
                                                 const std::string& stream_arn);
// Writes the checkpoint, unless the mapping is gone (a late write after a delete is dropped).
Status save_checkpoint(Connection& c, const std::string& mapping_uuid, const Checkpoint& cp);
Status delete_checkpoints(Connection& c, const std::string& mapping_uuid);

}  // namespace esm::storage
