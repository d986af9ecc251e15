#include "core/arn.h"

#include <vector>

namespace esm {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep, std::size_t max_parts) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < max_parts) {
    const auto pos = s.find(sep);
    if (pos == std::string_view::npos) break;
    out.push_back(s.substr(0, pos));
    s.remove_prefix(pos + 1);
  }
  out.push_back(s);
  return out;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

bool is_valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!is_name_char(c)) return false;
  return true;
}

bool is_valid_qualifier(std::string_view s) {
  if (s == "$LATEST" || s == "$LATEST.PUBLISHED") return true;
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!is_name_char(c) || c == '.') return false;
  return true;
}

bool is_account(std::string_view s) {
  if (s.size() != 12) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool all_of(std::string_view s, bool (*pred)(char)) {
  for (char c : s)
    if (!pred(c)) return false;
  return true;
}

bool is_alnum_or_dash(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

bool is_region_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

}  // namespace

bool is_msk_cluster_arn(std::string_view s) {
  auto arn = parse_arn(s);
  if (!arn || !arn->partition.starts_with("aws") || arn->service != "kafka") return false;
  if (arn->region.empty() || !all_of(arn->region, is_region_char) || !is_account(arn->account)) return false;
  const auto parts = split(arn->resource, '/', 4);
  if (parts.size() != 3 || parts[0] != "cluster") return false;
  const std::string_view name = parts[1];
  const std::string_view id = parts[2];
  const bool name_ok = !name.empty() && name.size() <= 64 &&
                       all_of(name, [](char c) { return is_alnum_or_dash(c) || c == '_'; });
  return name_ok && !id.empty() && id.size() <= 64 && all_of(id, is_alnum_or_dash);
}

std::optional<Arn> parse_arn(std::string_view s) {
  auto parts = split(s, ':', 6);
  if (parts.size() != 6 || parts[0] != "arn" || parts[1].empty() || parts[2].empty()) return std::nullopt;
  return Arn{std::string(parts[1]), std::string(parts[2]), std::string(parts[3]), std::string(parts[4]),
             std::string(parts[5])};
}

std::string function_arn(std::string_view region, std::string_view account, std::string_view name,
                         std::string_view qualifier) {
  std::string out = "arn:aws:lambda:";
  out.append(region).append(":").append(account).append(":function:").append(name);
  if (!qualifier.empty()) out.append(":").append(qualifier);
  return out;
}

std::string mapping_arn(std::string_view region, std::string_view account, std::string_view uuid) {
  std::string out = "arn:aws:lambda:";
  out.append(region).append(":").append(account).append(":event-source-mapping:").append(uuid);
  return out;
}

std::optional<FunctionRef> parse_function_ref(std::string_view s) {
  FunctionRef ref;
  std::vector<std::string_view> parts = split(s, ':', 16);
  std::size_t i = 0;
  if (parts.size() >= 6 && parts[0] == "arn") {
    if (parts[2] != "lambda" || parts[5] != "function") return std::nullopt;
    ref.region = std::string(parts[3]);
    ref.account = std::string(parts[4]);
    if (!is_account(ref.account) || ref.region.empty()) return std::nullopt;
    i = 6;
  } else if (parts.size() >= 3 && parts[1] == "function") {
    if (!is_account(parts[0])) return std::nullopt;
    ref.account = std::string(parts[0]);
    i = 2;
  }
  const std::size_t rest = parts.size() - i;
  if (rest < 1 || rest > 2) return std::nullopt;
  if (!is_valid_name(parts[i])) return std::nullopt;
  ref.name = std::string(parts[i]);
  if (rest == 2) {
    if (!is_valid_qualifier(parts[i + 1])) return std::nullopt;
    ref.qualifier = std::string(parts[i + 1]);
  }
  return ref;
}

std::string resource_name(const Arn& arn) {
  const auto slash = arn.resource.find('/');
  if (slash == std::string::npos) return arn.resource;
  auto rest = std::string_view(arn.resource).substr(slash + 1);
  return std::string(rest.substr(0, rest.find('/')));
}

}  // namespace esm
