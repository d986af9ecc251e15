#include "storage/checkpoint_store.h"

namespace esm::storage {

Result<std::vector<Checkpoint>> load_checkpoints(Connection& c, const std::string& mapping_uuid,
                                                 const std::string& source) {
  Statement& st = c.prepare(
      "SELECT partition_id, source, position, state, epoch, position_text FROM checkpoints "
      "WHERE mapping_uuid = ? AND source = ? ORDER BY partition_id");
  st.bind(1, mapping_uuid).bind(2, source);
  std::vector<Checkpoint> out;
  while (st.step())
    out.push_back({st.text(0), st.text(1), st.int64(2), st.opt_text(3), st.int64(4), st.opt_text(5)});
  Status s = st.status();
  st.reset();
  if (!s.is_ok()) return s;
  return out;
}

Status save_checkpoint(Connection& c, const std::string& mapping_uuid, const Checkpoint& cp) {
  Statement& st = c.prepare(
      "INSERT INTO checkpoints(mapping_uuid, source, partition_id, position, position_text, state, epoch) "
      "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM mappings WHERE uuid = ?1) "
      "ON CONFLICT(mapping_uuid, source, partition_id) DO UPDATE SET position = excluded.position, "
      "position_text = excluded.position_text, state = excluded.state, epoch = excluded.epoch");
  st.bind(1, mapping_uuid).bind(2, cp.source).bind(3, cp.partition).bind(4, cp.position);
  st.bind(5, cp.position_text).bind(6, cp.state).bind(7, cp.epoch);
  return st.run();
}

Status delete_checkpoints(Connection& c, const std::string& mapping_uuid) {
  Statement& st = c.prepare("DELETE FROM checkpoints WHERE mapping_uuid = ?");
  st.bind(1, mapping_uuid);
  return st.run();
}

}  // namespace esm::storage
