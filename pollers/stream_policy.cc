#include "pollers/stream_policy.h"

#include <rapidjson/document.h>

#include <algorithm>

#include "core/codec.h"

namespace esm::pollers {
namespace {

constexpr std::int64_t kFirstBackoffMs = 500;
constexpr std::int64_t kMaxBackoffMs = 30000;

bool exhausted(const RetryConfig& c, int attempts) {
  return c.max_retry_attempts >= 0 && attempts > c.max_retry_attempts;
}

}  // namespace

int age_limit_s(const RetryConfig& c) {
  if (c.max_record_age_s < 0) return c.retention_s;
  if (c.retention_s < 0) return c.max_record_age_s;
  return std::min(c.max_record_age_s, c.retention_s);
}

std::int64_t backoff_ms(int failed_attempts) {
  std::int64_t d = kFirstBackoffMs;
  for (int i = 1; i < failed_attempts && d < kMaxBackoffMs; ++i) d *= 2;
  return std::min(d, kMaxBackoffMs);
}

std::size_t count_expired(const std::vector<std::int64_t>& arrival_ms, std::size_t begin, std::size_t end,
                          std::int64_t now_ms, int max_age_s) {
  if (max_age_s < 0) return 0;
  const std::int64_t limit = static_cast<std::int64_t>(max_age_s) * 1000;
  std::size_t i = begin;
  while (i < end && now_ms - arrival_ms[i] > limit) ++i;
  return i - begin;
}

Judgement judge_item_failures(const InvokeOutcome& outcome, bool report_item_failures, std::size_t end,
                              const FindItem& find) {
  if (outcome.status == InvokeStatus::kInvokeError) return {Verdict::kInvokeError, 0};
  if (outcome.status == InvokeStatus::kFunctionError) return {Verdict::kFailure, 0};
  if (!report_item_failures) return {Verdict::kSuccess, 0};
  const std::string& body = outcome.payload;
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return {Verdict::kSuccess, 0};
  rapidjson::Document d;
  // Iterative: the body is the function's, and the recursive parser would overflow the stack
  // on a deep enough nesting.
  d.Parse<rapidjson::kParseIterativeFlag>(body.c_str(), body.size());
  if (d.HasParseError()) return {Verdict::kFailure, 0};
  if (!d.IsObject()) return {Verdict::kSuccess, 0};
  auto it = d.FindMember("batchItemFailures");
  if (it == d.MemberEnd() || it->value.IsNull()) return {Verdict::kSuccess, 0};
  if (!it->value.IsArray()) return {Verdict::kFailure, 0};
  std::size_t lowest = end;
  for (const auto& item : it->value.GetArray()) {
    if (!item.IsObject()) return {Verdict::kFailure, 0};
    auto id = item.FindMember("itemIdentifier");
    if (id == item.MemberEnd()) return {Verdict::kFailure, 0};
    const std::optional<std::size_t> at = find(id->value);
    if (!at) return {Verdict::kFailure, 0};
    lowest = std::min(lowest, *at);
  }
  if (lowest == end) return {Verdict::kSuccess, 0};
  return {Verdict::kPartial, lowest};
}

Judgement judge_stream_batch(const InvokeOutcome& outcome, bool report_item_failures,
                             const std::vector<std::string_view>& seqs, std::size_t begin, std::size_t end) {
  return judge_item_failures(outcome, report_item_failures, end,
                             [&](const rapidjson::Value& id) -> std::optional<std::size_t> {
    if (!id.IsString() || id.GetStringLength() == 0) return std::nullopt;
    const std::string_view sid(id.GetString(), id.GetStringLength());
    // Sequence numbers of one shard increase and have one length: binary search by string.
    auto first = seqs.begin() + static_cast<std::ptrdiff_t>(begin);
    auto last = seqs.begin() + static_cast<std::ptrdiff_t>(end);
    auto pos = std::lower_bound(first, last, sid, [](std::string_view a, std::string_view b) {
      return a.size() != b.size() ? a.size() < b.size() : a < b;
    });
    if (pos == last || *pos != sid) return std::nullopt;
    return static_cast<std::size_t>(pos - seqs.begin());
  });
}

BatchRun::BatchRun(std::vector<std::int64_t> arrival_ms, RetryConfig config, bool invoke_when_empty)
    : arrival_ms_(std::move(arrival_ms)), config_(config), size_(arrival_ms_.size()) {
  if (size_ > 0 || invoke_when_empty) stack_.push_back(Range{0, size_, 0, 0, 0, 0});
}

Step BatchRun::next(std::int64_t now_ms) {
  Step step;
  while (!stack_.empty()) {
    Range& r = stack_.back();
    if (now_ms < r.not_before_ms) {
      step.kind = Step::Kind::kWait;
      step.wait_until_ms = r.not_before_ms;
      return step;
    }
    const std::size_t n = count_expired(arrival_ms_, r.begin, r.end, now_ms, age_limit_s(config_));
    if (n > 0) {
      step.given_up.push_back(
          GiveUp{r.begin, r.begin + n, Condition::kRecordAgeExceeded, std::max(1, r.invokes)});
      r.begin += n;
      if (r.begin == r.end) {
        stack_.pop_back();
        continue;
      }
    }
    step.kind = Step::Kind::kInvoke;
    step.begin = r.begin;
    step.end = r.end;
    return step;
  }
  step.kind = Step::Kind::kDone;
  return step;
}

std::optional<GiveUp> BatchRun::on_result(const Judgement& j, std::int64_t now_ms) {
  if (stack_.empty()) return std::nullopt;
  Range& r = stack_.back();
  switch (j.verdict) {
    case Verdict::kSuccess:
      stack_.pop_back();
      return std::nullopt;
    case Verdict::kInvokeError:
      ++r.failed_tries;
      r.not_before_ms = now_ms + backoff_ms(r.failed_tries);
      return std::nullopt;
    case Verdict::kPartial:
      ++r.invokes;
      if (j.failed_from > r.begin && j.failed_from < r.end) r.begin = j.failed_from;
      break;
    case Verdict::kFailure:
      ++r.invokes;
      if (config_.bisect && r.end - r.begin > 1) {
        const Range whole = r;
        const std::size_t mid = whole.begin + (whole.end - whole.begin + 1) / 2;
        stack_.pop_back();
        stack_.push_back(Range{mid, whole.end, 0, 0, 0, now_ms});
        stack_.push_back(Range{whole.begin, mid, 0, 0, 0, now_ms});
        return std::nullopt;
      }
      break;
  }
  ++r.attempts;
  ++r.failed_tries;
  if (exhausted(config_, r.attempts)) {
    GiveUp g{r.begin, r.end, Condition::kRetryAttemptsExhausted, std::max(1, r.invokes)};
    stack_.pop_back();
    return g;
  }
  r.not_before_ms = now_ms + backoff_ms(r.failed_tries);
  return std::nullopt;
}

int lane_of(const std::string& partition_key, int lanes) {
  if (lanes <= 1) return 0;
  const std::string hex = md5_hex(partition_key);
  unsigned r = 0;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    const unsigned byte = static_cast<unsigned>(std::stoul(hex.substr(i, 2), nullptr, 16));
    r = (r * 256 + byte) % static_cast<unsigned>(lanes);
  }
  return static_cast<int>(r);
}

std::int64_t window_start_of(std::int64_t arrival_ms, int window_s) {
  const std::int64_t t = static_cast<std::int64_t>(window_s) * 1000;
  if (t <= 0) return arrival_ms;
  const std::int64_t k = arrival_ms >= 0 ? arrival_ms / t : (arrival_ms - t + 1) / t;
  return k * t;
}

}  // namespace esm::pollers
