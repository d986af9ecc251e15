#include "core/function_registry.h"

#include <mutex>

namespace esm {

void FunctionRegistry::put(FunctionSpec f) {
  std::unique_lock lk(mu_);
  auto name = f.name;
  functions_[name] = std::move(f);
}

bool FunctionRegistry::remove(const std::string& name) {
  std::unique_lock lk(mu_);
  return functions_.erase(name) > 0;
}

std::optional<FunctionSpec> FunctionRegistry::find(const std::string& name) const {
  {
    std::shared_lock lk(mu_);
    auto it = functions_.find(name);
    if (it != functions_.end()) return it->second;
  }
  if (invoke_endpoint_.empty()) return std::nullopt;
  std::string url = invoke_endpoint_;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return FunctionSpec{name, url + "/2015-03-31/functions/" + name + "/invocations", invoke_endpoint_timeout_ms_,
                      invoke_endpoint_concurrency_};
}

std::vector<FunctionSpec> FunctionRegistry::list() const {
  std::shared_lock lk(mu_);
  std::vector<FunctionSpec> out;
  for (const auto& [_, f] : functions_) out.push_back(f);
  return out;
}

}  // namespace esm
