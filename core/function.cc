#include "core/function.h"

namespace esm {

Result<TargetKind> parse_target(std::string_view t) {
  if (t == "builtin:ok") return TargetKind::kBuiltinOk;
  if (t == "builtin:fail") return TargetKind::kBuiltinFail;
  if (t.starts_with("exec:")) {
    if (t.size() == 5) return invalid_parameter("exec: target needs a command");
    return TargetKind::kExec;
  }
  if (t.starts_with("http://")) {
    std::string_view rest = t.substr(7);
    if (rest.empty() || rest.front() == '/' || rest.front() == ':')
      return invalid_parameter("http target needs a host: " + std::string(t));
    return TargetKind::kHttp;
  }
  return invalid_parameter("Unsupported function target '" + std::string(t) +
                           "': use http://HOST:PORT/PATH, exec:COMMAND, builtin:ok or builtin:fail");
}

bool is_valid_function_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace esm
