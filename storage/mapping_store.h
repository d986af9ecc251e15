#pragma once
// MappingStore: mappings and their tags in SQLite. Stateless: every call takes the Connection
// (owned by DbWorker, so only the worker thread calls these).
//
// Fallible calls return a Status: OK, NotFound when the uuid/arn is unknown (its message names
// the uuid; the Lambda front-end words it as AWS does), Internal for an
// SQLite failure. Reads are fallible too: a failed read is an error, never an empty answer.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/mapping.h"
#include "core/status.h"
#include "storage/sqlite.h"

namespace esm::storage {

struct MappingQuery {
  std::string region;
  std::optional<std::string> function_arn;
  std::optional<std::string> event_source_arn;
  std::int64_t after_seq = 0;
  int limit = 100;
};

using Tags = std::map<std::string, std::string>;

// Assigns m.seq.
Status insert_mapping(Connection& c, Mapping& m);
// Rewrites every field of the mapping with m.uuid but the ones fixed at creation (seq, region,
// account, kind, event source, fifo); NotFound (and nothing written) if it is gone.
Status update_mapping(Connection& c, const Mapping& m);
Result<Mapping> get_mapping(Connection& c, const std::string& uuid);
Result<std::vector<Mapping>> list_mappings(Connection& c, const MappingQuery& q);
Result<std::vector<Mapping>> mappings_for_source(Connection& c, const std::string& event_source_arn);
Result<std::vector<Mapping>> all_mappings(Connection& c);
Result<std::int64_t> count_mappings(Connection& c);
// Removes the mapping, its tags and its stream checkpoints.
Status delete_mapping(Connection& c, const std::string& uuid);
// Sets LastProcessingResult alone (a poller's report; nothing else of the mapping changes).
// OK also when the mapping is gone.
Status set_last_processing_result(Connection& c, const std::string& uuid, const std::string& result);

// Mappings whose transition is due at or before now_ms.
Result<std::vector<Mapping>> due_transitions(Connection& c, std::int64_t now_ms);
Result<std::optional<std::int64_t>> next_transition_at(Connection& c);

Result<Tags> get_tags(Connection& c, const std::string& arn);
Status put_tags(Connection& c, const std::string& arn, const Tags& tags);
Status remove_tags(Connection& c, const std::string& arn, const std::vector<std::string>& keys);

}  // namespace esm::storage
