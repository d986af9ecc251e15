#include "storage/function_store.h"

namespace esm::storage {

Result<std::vector<FunctionSpec>> load_functions(Connection& c) {
  Statement& st = c.prepare("SELECT name, target, timeout_ms, concurrency FROM functions ORDER BY name");
  std::vector<FunctionSpec> out;
  while (st.step()) out.push_back({st.text(0), st.text(1), st.int32(2), st.int32(3)});
  Status s = st.status();
  st.reset();
  if (!s.is_ok()) return s;
  return out;
}

Status put_function(Connection& c, const FunctionSpec& f) {
  Statement& st = c.prepare("REPLACE INTO functions(name, target, timeout_ms, concurrency) VALUES(?, ?, ?, ?)");
  st.bind(1, f.name).bind(2, f.target).bind(3, f.timeout_ms).bind(4, f.concurrency);
  return st.run();
}

Status delete_function(Connection& c, const std::string& name) {
  Statement& st = c.prepare("DELETE FROM functions WHERE name = ?");
  st.bind(1, name);
  if (Status s = st.run(); !s.is_ok()) return s;
  if (c.changes() == 0) return not_found("Function not found: " + name);
  return Status::ok();
}

}  // namespace esm::storage
