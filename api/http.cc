#include "api/http.h"

namespace esm::api {

std::string_view Request::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return {};
}

const std::string* Request::query_param(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return &v;
  return nullptr;
}

std::vector<std::string> Request::query_params(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query)
    if (k == name) out.push_back(v);
  return out;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string percent_decode(std::string_view s, bool plus_is_space) {
  // Most paths and query values have nothing to decode: copied in one piece, or in runs up to
  // each '%' (or '+') rather than a character at a time.
  std::size_t i = plus_is_space ? s.find_first_of("%+") : s.find('%');
  if (i == std::string_view::npos) return std::string(s);
  std::string out;
  out.reserve(s.size());
  out.append(s.substr(0, i));
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

void split_target(Request& r) {
  std::string_view t = r.target;
  const auto q = t.find('?');
  r.path = percent_decode(t.substr(0, q), false);
  r.query.clear();
  if (q == std::string_view::npos) return;
  std::string_view qs = t.substr(q + 1);
  while (!qs.empty()) {
    const auto amp = qs.find('&');
    std::string_view pair = qs.substr(0, amp);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      r.query.emplace_back(percent_decode(pair.substr(0, eq), true),
                           eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1), true));
    }
    if (amp == std::string_view::npos) break;
    qs.remove_prefix(amp + 1);
  }
}

std::string region_from_authorization(std::string_view a) {
  const auto pos = a.find("Credential=");
  if (pos == std::string_view::npos) return {};
  std::string_view cred = a.substr(pos + 11);
  cred = cred.substr(0, cred.find_first_of(", "));
  // AKID/DATE/REGION/SERVICE/aws4_request
  std::size_t start = 0;
  for (int i = 0; i < 2; ++i) {
    start = cred.find('/', start);
    if (start == std::string_view::npos) return {};
    ++start;
  }
  const auto end = cred.find('/', start);
  if (end == std::string_view::npos) return {};
  return std::string(cred.substr(start, end - start));
}

}  // namespace esm::api
