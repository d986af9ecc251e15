#include "core/invocation_log.h"

#include <algorithm>
#include <cctype>

#include "core/arn.h"

namespace esm {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// A record's fixed overhead besides its strings, so that many tiny entries still count.
constexpr std::size_t kRecordOverhead = 256;

}  // namespace

std::string_view outcome_name(InvokeStatus s) {
  switch (s) {
    case InvokeStatus::kSuccess:
      return "Success";
    case InvokeStatus::kFunctionError:
      return "FunctionError";
    case InvokeStatus::kInvokeError:
      return "InvokeError";
  }
  return "InvokeError";
}

bool function_filter_matches(std::string_view filter, std::string_view function_arn) {
  if (filter.empty()) return true;
  if (filter == function_arn) return true;
  auto want = parse_function_ref(filter);
  auto have = parse_function_ref(function_arn);
  if (!want || !have) return false;
  if (want->name != have->name) return false;
  if (!want->qualifier.empty() && want->qualifier != have->qualifier) return false;
  if (!want->region.empty() && !have->region.empty() && want->region != have->region) return false;
  if (!want->account.empty() && !have->account.empty() && want->account != have->account) return false;
  return true;
}

InvocationLog::InvocationLog(std::size_t max_entries, std::size_t max_bytes)
    : max_entries_(std::max<std::size_t>(max_entries, 1)), max_bytes_(max_bytes) {}

std::size_t InvocationLog::cost(const InvocationRecord& r) {
  return kRecordOverhead + r.function_arn.size() + r.mapping_uuid.size() + (r.event ? r.event->size() : 0) +
         r.outcome.payload.size() + r.outcome.detail.size() + r.outcome.function_error.size();
}

std::uint64_t InvocationLog::append(InvocationRecord r) {
  if (!r.event) r.event = std::make_shared<const std::string>();
  const std::size_t c = cost(r);
  std::lock_guard lk(mu_);
  r.seq = ++last_seq_;
  entries_.push_back(std::make_shared<const InvocationRecord>(std::move(r)));
  bytes_ += c;
  while (entries_.size() > 1 && (entries_.size() > max_entries_ || bytes_ > max_bytes_)) {
    bytes_ -= cost(*entries_.front());
    entries_.pop_front();
  }
  return last_seq_;
}

std::vector<std::shared_ptr<const InvocationRecord>> InvocationLog::query(const InvocationQuery& q) const {
  auto matches = [&q](const InvocationRecord& r) {
    if (!q.mapping.empty() && !iequals(q.mapping, r.mapping_uuid)) return false;
    return function_filter_matches(q.function, r.function_arn);
  };
  std::vector<std::shared_ptr<const InvocationRecord>> out;
  if (q.limit == 0) return out;
  std::lock_guard lk(mu_);
  if (q.since) {
    auto it = std::upper_bound(entries_.begin(), entries_.end(), *q.since,
                               [](std::uint64_t s, const auto& e) { return s < e->seq; });
    for (; it != entries_.end() && out.size() < q.limit; ++it)
      if (matches(**it)) out.push_back(*it);
    return out;
  }
  for (auto it = entries_.rbegin(); it != entries_.rend() && out.size() < q.limit; ++it)
    if (matches(**it)) out.push_back(*it);
  std::reverse(out.begin(), out.end());
  return out;
}

void InvocationLog::clear() {
  std::lock_guard lk(mu_);
  entries_.clear();
  bytes_ = 0;
}

std::size_t InvocationLog::size() const {
  std::lock_guard lk(mu_);
  return entries_.size();
}

std::size_t InvocationLog::bytes() const {
  std::lock_guard lk(mu_);
  return bytes_;
}

std::uint64_t InvocationLog::last_seq() const {
  std::lock_guard lk(mu_);
  return last_seq_;
}

}  // namespace esm
