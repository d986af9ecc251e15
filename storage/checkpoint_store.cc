#include "storage/checkpoint_store.h"

namespace esm::storage {

Result<std::vector<Checkpoint>> load_checkpoints(Connection& c, const std::string& mapping_uuid,
                                                 const std::string& stream_arn) {
  Statement& st = c.prepare(
      "SELECT shard_id, stream_arn, next_index, window_json, stream_id FROM stream_checkpoints "
      "WHERE mapping_uuid = ? AND stream_arn = ? ORDER BY shard_id");
  st.bind(1, mapping_uuid).bind(2, stream_arn);
  std::vector<Checkpoint> out;
  while (st.step()) out.push_back({st.text(0), st.text(1), st.int64(2), st.opt_text(3), st.int64(4)});
  Status s = st.status();
  st.reset();
  if (!s.is_ok()) return s;
  return out;
}

Status save_checkpoint(Connection& c, const std::string& mapping_uuid, const Checkpoint& cp) {
  Statement& st = c.prepare(
      "INSERT INTO stream_checkpoints(mapping_uuid, shard_id, stream_arn, next_index, window_json, stream_id) "
      "SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM mappings WHERE uuid = ?1) "
      "ON CONFLICT(mapping_uuid, shard_id) DO UPDATE SET stream_arn = excluded.stream_arn, "
      "next_index = excluded.next_index, window_json = excluded.window_json, stream_id = excluded.stream_id");
  st.bind(1, mapping_uuid).bind(2, cp.shard_id).bind(3, cp.stream_arn).bind(4, cp.next_index).bind(5, cp.window_json);
  st.bind(6, cp.stream_id);
  return st.run();
}

Status delete_checkpoints(Connection& c, const std::string& mapping_uuid) {
  Statement& st = c.prepare("DELETE FROM stream_checkpoints WHERE mapping_uuid = ?");
  st.bind(1, mapping_uuid);
  return st.run();
}

}  // namespace esm::storage
