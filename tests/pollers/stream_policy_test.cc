#include "pollers/stream_policy.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fakes/fake_clock.h"

namespace esm::pollers {
namespace {

// ---- helpers -----------------------------------------------------------------------------

InvokeOutcome success(std::string body = "") {
  InvokeOutcome o;
  o.status = InvokeStatus::kSuccess;
  o.http_status = 200;
  o.payload = std::move(body);
  return o;
}

InvokeOutcome function_error() {
  InvokeOutcome o;
  o.status = InvokeStatus::kFunctionError;
  o.http_status = 200;
  o.function_error = "Unhandled";
  return o;
}

InvokeOutcome invoke_error() {
  InvokeOutcome o;
  o.status = InvokeStatus::kInvokeError;
  o.http_status = 429;
  return o;
}

std::vector<std::string> seqs(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    std::string digits = std::to_string(1000 + i);
    out.push_back("4959" + std::string(52 - digits.size(), '0') + digits);
  }
  return out;
}

// What the pipeline passes: views of its batch's sequence numbers.
std::vector<std::string_view> views(const std::vector<std::string>& seqs) {
  return std::vector<std::string_view>(seqs.begin(), seqs.end());
}

std::string report(const std::vector<std::string>& ids) {
  std::string body = R"({"batchItemFailures":[)";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) body += ",";
    body += R"({"itemIdentifier":")" + ids[i] + "\"}";
  }
  return body + "]}";
}

// One event of a run, as both the real policy and the reference model produce them.
struct Event {
  enum Kind { kInvoke, kGiveUp } kind;
  std::size_t begin, end;
  std::int64_t at_ms;
  Condition condition = Condition::kRetryAttemptsExhausted;
  int count = 0;
  bool operator==(const Event&) const = default;
};

std::string describe(const std::vector<Event>& events) {
  std::ostringstream out;
  for (const auto& e : events) {
    if (e.kind == Event::kInvoke) {
      out << "invoke[" << e.begin << "," << e.end << ")@" << e.at_ms << " ";
    } else {
      out << (e.condition == Condition::kRecordAgeExceeded ? "expired[" : "exhausted[") << e.begin << "," << e.end
          << ")x" << e.count << "@" << e.at_ms << " ";
    }
  }
  return out.str();
}

// What the function does with an invocation of [begin, end): a judgement and how long it takes.
using Oracle = std::function<std::pair<Judgement, std::int64_t>(std::size_t begin, std::size_t end)>;

// Drives a BatchRun on a fake clock until it is done; returns what it did.
std::vector<Event> drive(BatchRun& run, testing::FakeClock& clock, const Oracle& fn, int max_steps = 100000) {
  std::vector<Event> events;
  for (int i = 0; i < max_steps; ++i) {
    Step step = run.next(clock.now_ms());
    for (const auto& g : step.given_up)
      events.push_back({Event::kGiveUp, g.begin, g.end, clock.now_ms(), g.condition, g.approximate_invoke_count});
    if (step.kind == Step::Kind::kDone) return events;
    if (step.kind == Step::Kind::kWait) {
      REQUIRE(step.wait_until_ms > clock.now_ms());
      clock.set_ms(step.wait_until_ms);
      continue;
    }
    events.push_back({Event::kInvoke, step.begin, step.end, clock.now_ms()});
    auto [j, took] = fn(step.begin, step.end);
    clock.advance_ms(took);
    if (auto g = run.on_result(j, clock.now_ms()))
      events.push_back({Event::kGiveUp, g->begin, g->end, clock.now_ms(), g->condition, g->approximate_invoke_count});
  }
  FAIL("the run did not finish");
  return events;
}

// ---- the naive reference model -----------------------------------------------------------
// The rules of data-plane.md §3.2–§3.5 and the esmd decisions of §6, written as directly as
// possible: recursion for bisect, a loop per range, the backoff as a power of two.
struct Reference {
  RetryConfig config;
  std::vector<std::int64_t> arrivals;
  Oracle fn;
  std::int64_t now = 0;
  std::vector<Event> events;

  static std::int64_t backoff(int failed) {
    return static_cast<std::int64_t>(std::min(30000.0, 500.0 * std::pow(2.0, failed - 1)));
  }
  bool expired(std::size_t i) const {
    return config.max_record_age_s >= 0 && now - arrivals[i] > config.max_record_age_s * 1000LL;
  }

  void process(std::size_t b, std::size_t e) {
    int invocations = 0, attempts = 0, failed = 0;
    std::int64_t not_before = now;
    for (;;) {
      now = std::max(now, not_before);
      std::size_t k = b;
      while (k < e && expired(k)) ++k;
      if (k > b) {
        events.push_back({Event::kGiveUp, b, k, now, Condition::kRecordAgeExceeded, std::max(1, invocations)});
        b = k;
        if (b == e) return;
      }
      events.push_back({Event::kInvoke, b, e, now});
      auto [j, took] = fn(b, e);
      now += took;
      if (j.verdict == Verdict::kInvokeError) {
        ++failed;
        not_before = now + backoff(failed);
        continue;
      }
      ++invocations;
      if (j.verdict == Verdict::kSuccess) return;
      if (j.verdict == Verdict::kFailure && config.bisect && e - b >= 2) {
        const std::size_t m = b + (e - b + 1) / 2;
        process(b, m);
        process(m, e);
        return;
      }
      if (j.verdict == Verdict::kPartial && j.failed_from > b && j.failed_from < e) b = j.failed_from;
      ++attempts;
      ++failed;
      if (config.max_retry_attempts >= 0 && attempts > config.max_retry_attempts) {
        events.push_back({Event::kGiveUp, b, e, now, Condition::kRetryAttemptsExhausted, std::max(1, invocations)});
        return;
      }
      not_before = now + backoff(failed);
    }
  }
};

// ---- the tests ---------------------------------------------------------------------------

TEST_CASE("backoff starts at half a second, doubles, and stops at 30 seconds") {
  CHECK(backoff_ms(1) == 500);
  CHECK(backoff_ms(2) == 1000);
  CHECK(backoff_ms(3) == 2000);
  CHECK(backoff_ms(6) == 16000);
  CHECK(backoff_ms(7) == 30000);
  CHECK(backoff_ms(1000) == 30000);
}

TEST_CASE("only the leading records older than the age limit expire") {
  const std::vector<std::int64_t> arr{1000, 2000, 61'500, 3000};
  CHECK(count_expired(arr, 0, 4, 63'000, 60) == 2);  // 62 s and 61 s old; the third is young
  CHECK(count_expired(arr, 0, 4, 61'000, 60) == 0);  // exactly 60 s old is not past the limit
  CHECK(count_expired(arr, 1, 4, 63'000, 60) == 1);
  CHECK(count_expired(arr, 0, 4, 10'000'000, -1) == 0);
}

TEST_CASE("the Kinesis success responses of ReportBatchItemFailures all count as success") {
  const auto s = seqs(3);
  for (const char* body : {"", "  ", "null", "{}", "[]", "\"ok\"", R"({"batchItemFailures":[]})",
                           R"({"batchItemFailures":null})", R"({"status":1})"}) {
    INFO(body);
    CHECK(judge_stream_batch(success(body), true, views(s), 0, 3).verdict == Verdict::kSuccess);
  }
}

TEST_CASE("invalid partial-batch responses are a complete failure") {
  const auto s = seqs(3);
  for (std::string body : {R"({"batchItemFailures":[{"itemIdentifier":""}]})",
                           R"({"batchItemFailures":[{"itemIdentifier":null}]})", R"({"batchItemFailures":[{"foo":123}]})",
                           R"({"batchItemFailures":[{"foo":null}]})", R"({"batchItemFailures":[{"itemIdentifier":"123"}]})",
                           R"({"batchItemFailures":[{"itemIdentifier":123}]})", R"({"batchItemFailures":"x"})",
                           R"({"batchItemFailures":["x"]})", "{not json"}) {
    INFO(body);
    CHECK(judge_stream_batch(success(body), true, views(s), 0, 3).verdict == Verdict::kFailure);
  }
}

TEST_CASE("a partial-batch response nested 100,000 or 1,000,000 deep is a complete failure, not a stack overflow") {
  const auto s = seqs(3);
  const std::string open(100'000, '[');
  const std::string close(100'000, ']');
  CHECK(judge_stream_batch(success(open), true, views(s), 0, 3).verdict == Verdict::kFailure);
  const std::string nested = R"({"batchItemFailures":)" + open + close + "}";
  CHECK(judge_stream_batch(success(nested), true, views(s), 0, 3).verdict == Verdict::kFailure);
  // Deep enough to overflow an 8 MB stack through the recursive parser, even in Release.
  CHECK(judge_stream_batch(success(std::string(1'000'000, '[')), true, views(s), 0, 3).verdict == Verdict::kFailure);
}

TEST_CASE("a valid partial response fails from the lowest listed sequence number") {
  const auto s = seqs(5);
  Judgement j = judge_stream_batch(success(report({s[3], s[2], s[4]})), true, views(s), 1, 5);
  CHECK(j.verdict == Verdict::kPartial);
  CHECK(j.failed_from == 2);
  // A record of the batch outside the range being invoked is not in this invocation.
  CHECK(judge_stream_batch(success(report({s[0]})), true, views(s), 1, 5).verdict == Verdict::kFailure);
}

TEST_CASE("without ReportBatchItemFailures a stream batch ignores the response body") {
  const auto s = seqs(2);
  CHECK(judge_stream_batch(success(report({"nope"})), false, views(s), 0, 2).verdict == Verdict::kSuccess);
  CHECK(judge_stream_batch(success("{not json"), false, views(s), 0, 2).verdict == Verdict::kSuccess);
  CHECK(judge_stream_batch(function_error(), false, views(s), 0, 2).verdict == Verdict::kFailure);
  CHECK(judge_stream_batch(invoke_error(), true, views(s), 0, 2).verdict == Verdict::kInvokeError);
}

TEST_CASE("a failing batch is retried MaximumRetryAttempts times with backoff, then given up") {
  testing::FakeClock clock(1'000'000);
  BatchRun run({999'000, 999'500}, RetryConfig{2, -1, false});
  auto events = drive(run, clock, [](std::size_t, std::size_t) { return std::pair{Judgement{Verdict::kFailure, 0}, 0L}; });
  INFO(describe(events));
  REQUIRE(events.size() == 4);
  CHECK(events[0] == Event{Event::kInvoke, 0, 2, 1'000'000});
  CHECK(events[1] == Event{Event::kInvoke, 0, 2, 1'000'500});
  CHECK(events[2] == Event{Event::kInvoke, 0, 2, 1'001'500});
  CHECK(events[3] == Event{Event::kGiveUp, 0, 2, 1'001'500, Condition::kRetryAttemptsExhausted, 3});
  CHECK(run.done() == 2);
}

TEST_CASE("bisect isolates one poison record and delivers every other one") {
  testing::FakeClock clock(1'000'000);
  const std::size_t n = 100, poison = 37;
  BatchRun run(std::vector<std::int64_t>(n, 999'000), RetryConfig{0, -1, true});
  std::set<std::size_t> delivered;
  int invocations = 0;
  auto events = drive(run, clock, [&](std::size_t b, std::size_t e) {
    ++invocations;
    if (poison >= b && poison < e) return std::pair{Judgement{Verdict::kFailure, 0}, 10L};
    for (std::size_t i = b; i < e; ++i) delivered.insert(i);
    return std::pair{Judgement{Verdict::kSuccess, 0}, 10L};
  });
  INFO(describe(events));
  CHECK(delivered.size() == n - 1);
  CHECK_FALSE(delivered.count(poison));
  std::vector<Event> given_up;
  for (const auto& e : events)
    if (e.kind == Event::kGiveUp) given_up.push_back(e);
  REQUIRE(given_up.size() == 1);
  CHECK(given_up[0].begin == poison);
  CHECK(given_up[0].end == poison + 1);
  CHECK(given_up[0].count == 1);
  // Each level of the split makes two invocations: about 2·log2(n) in all.
  CHECK(invocations <= 2 * 7 + 1);
}

TEST_CASE("bisect still splits with MaximumRetryAttempts 0, and a single record uses the retry quota") {
  testing::FakeClock clock;
  BatchRun run(std::vector<std::int64_t>(2, clock.now_ms()), RetryConfig{1, -1, true});
  auto events = drive(run, clock, [](std::size_t b, std::size_t) {
    return std::pair{Judgement{b == 0 ? Verdict::kFailure : Verdict::kSuccess, 0}, 0L};
  });
  INFO(describe(events));
  // [0,2) fails and splits; [0,1) fails twice (1 retry); [1,2) succeeds.
  REQUIRE(events.size() == 5);
  CHECK(events[1].begin == 0);
  CHECK(events[1].end == 1);
  CHECK(events[3] == Event{Event::kGiveUp, 0, 1, events[3].at_ms, Condition::kRetryAttemptsExhausted, 2});
  CHECK(events[4].begin == 1);
}

TEST_CASE("a partial response moves the start and the retry counter is not reset") {
  // The recorded AWS run: BatchSize 3, MaximumRetryAttempts 3, the last record always reported.
  testing::FakeClock clock;
  BatchRun run(std::vector<std::int64_t>(3, clock.now_ms()), RetryConfig{3, -1, false});
  auto events = drive(run, clock, [](std::size_t, std::size_t) { return std::pair{Judgement{Verdict::kPartial, 2}, 0L}; });
  INFO(describe(events));
  REQUIRE(events.size() == 5);
  CHECK(events[0].begin == 0);
  for (int i = 1; i < 4; ++i) CHECK(events[static_cast<std::size_t>(i)].begin == 2);
  CHECK(events[4] == Event{Event::kGiveUp, 2, 3, events[4].at_ms, Condition::kRetryAttemptsExhausted, 4});
}

TEST_CASE("records already too old are reported before the first invocation, with a count of 1") {
  testing::FakeClock clock(10'000'000);
  const std::int64_t now = clock.now_ms();
  BatchRun run({now - 70'000, now - 1000, now - 500}, RetryConfig{-1, 60, false});
  auto events = drive(run, clock, [](std::size_t, std::size_t) { return std::pair{Judgement{Verdict::kSuccess, 0}, 0L}; });
  INFO(describe(events));
  REQUIRE(events.size() == 2);
  CHECK(events[0] == Event{Event::kGiveUp, 0, 1, now, Condition::kRecordAgeExceeded, 1});
  CHECK(events[1] == Event{Event::kInvoke, 1, 3, now});
}

TEST_CASE("records expiring while their batch retries are reported with the invocations so far") {
  testing::FakeClock clock(10'000'000);
  BatchRun run({clock.now_ms()}, RetryConfig{-1, 60, false});
  int invocations = 0;
  auto events = drive(run, clock, [&](std::size_t, std::size_t) {
    ++invocations;
    return std::pair{Judgement{Verdict::kFailure, 0}, 0L};
  });
  INFO(describe(events));
  REQUIRE(events.back().kind == Event::kGiveUp);
  CHECK(events.back().condition == Condition::kRecordAgeExceeded);
  CHECK(events.back().count == invocations);
  // Tries at 0, 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s; at 61.5 s the record is past 60 s.
  CHECK(invocations == 7);
}

TEST_CASE("the age limit is the smaller of MaximumRecordAgeInSeconds and the retention period") {
  CHECK(age_limit_s(RetryConfig{-1, -1, false, -1}) == -1);
  CHECK(age_limit_s(RetryConfig{-1, -1, false, 86400}) == 86400);
  CHECK(age_limit_s(RetryConfig{-1, 60, false, 86400}) == 60);
  CHECK(age_limit_s(RetryConfig{-1, 604800, false, 86400}) == 86400);
  CHECK(age_limit_s(RetryConfig{-1, 60, false, -1}) == 60);
}

TEST_CASE("with unlimited retries and record age a failing batch is given up when retention trims it") {
  testing::FakeClock clock(10'000'000);
  const std::int64_t t0 = clock.now_ms();
  BatchRun run({t0, t0 + 1000, t0 + 2000}, RetryConfig{-1, -1, false, 24 * 3600});
  int invocations = 0;
  auto events = drive(run, clock, [&](std::size_t, std::size_t) {
    ++invocations;
    return std::pair{Judgement{Verdict::kFailure, 0}, 0L};
  });
  INFO(describe(events));
  REQUIRE(events.back().kind == Event::kGiveUp);
  CHECK(events.back().condition == Condition::kRecordAgeExceeded);
  CHECK(events.back().count == invocations);
  // Backoff reaches 30 s after 0.5+1+...+16 s: about 2,880 tries fill a day.
  CHECK(invocations > 2000);
  CHECK(clock.now_ms() - t0 > 24LL * 3600 * 1000);
  CHECK(clock.now_ms() - t0 < 24LL * 3600 * 1000 + 3 * 30'000);
}

TEST_CASE("invoke errors are retried without counting an attempt and never bisect") {
  testing::FakeClock clock;
  BatchRun run(std::vector<std::int64_t>(4, clock.now_ms()), RetryConfig{0, -1, true});
  int calls = 0;
  auto events = drive(run, clock, [&](std::size_t, std::size_t) {
    ++calls;
    return std::pair{Judgement{calls <= 5 ? Verdict::kInvokeError : Verdict::kSuccess, 0}, 0L};
  });
  INFO(describe(events));
  REQUIRE(events.size() == 6);
  for (const auto& e : events) {
    CHECK(e.kind == Event::kInvoke);
    CHECK(e.begin == 0);
    CHECK(e.end == 4);
  }
}

TEST_CASE("a final window call without records is invoked and retried like a batch") {
  testing::FakeClock clock;
  BatchRun run({}, RetryConfig{1, -1, false}, true);
  auto events = drive(run, clock, [](std::size_t, std::size_t) { return std::pair{Judgement{Verdict::kFailure, 0}, 0L}; });
  REQUIRE(events.size() == 3);
  CHECK(events[0] == Event{Event::kInvoke, 0, 0, events[0].at_ms});
  CHECK(events[2].kind == Event::kGiveUp);
  CHECK(BatchRun({}, RetryConfig{}).next(0).kind == Step::Kind::kDone);
}

TEST_CASE("the policy agrees with the naive reference model on random batches and functions") {
  std::mt19937_64 rng(20261127);
  for (int round = 0; round < 3000; ++round) {
    auto pick = [&](int lo, int hi) { return static_cast<int>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
    const std::size_t n = static_cast<std::size_t>(pick(1, 40));
    RetryConfig config{pick(-1, 4), pick(0, 2) == 0 ? -1 : pick(60, 200), pick(0, 1) == 1};
    if (config.max_retry_attempts < 0 && config.max_record_age_s < 0) config.max_retry_attempts = pick(0, 3);
    const bool report = pick(0, 1) == 1;
    const int invoke_error_pct = pick(0, 1) == 0 ? 0 : pick(1, 40);
    const std::int64_t start = 50'000'000;
    std::vector<std::int64_t> arrivals(n);
    std::int64_t t = start - pick(0, 250'000);
    for (auto& a : arrivals) a = (t += pick(0, 3000));
    std::set<std::size_t> poison;
    for (std::size_t i = 0; i < n; ++i)
      if (pick(0, 9) == 0) poison.insert(i);

    // The same function for both: the judgement depends on the range and a seeded sequence.
    auto make_oracle = [&](std::uint64_t seed) {
      auto r = std::make_shared<std::mt19937_64>(seed);
      return Oracle([=](std::size_t b, std::size_t e) {
        auto roll = [r](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(*r); };
        const std::int64_t took = roll(0, 2000);
        if (roll(1, 100) <= invoke_error_pct) return std::pair{Judgement{Verdict::kInvokeError, 0}, took};
        auto first = poison.lower_bound(b);
        if (first == poison.end() || *first >= e) return std::pair{Judgement{Verdict::kSuccess, 0}, took};
        if (report && roll(0, 1) == 1) return std::pair{Judgement{Verdict::kPartial, *first}, took};
        return std::pair{Judgement{Verdict::kFailure, 0}, took};
      });
    };
    const std::uint64_t seed = rng();

    testing::FakeClock clock(start);
    BatchRun run(arrivals, config);
    const auto actual = drive(run, clock, make_oracle(seed));

    Reference ref{config, arrivals, make_oracle(seed), start, {}};
    ref.process(0, n);

    INFO("round " << round << " n=" << n << " retries=" << config.max_retry_attempts
                  << " age=" << config.max_record_age_s << " bisect=" << config.bisect);
    INFO("actual:    " << describe(actual));
    INFO("reference: " << describe(ref.events));
    REQUIRE(actual == ref.events);
    CHECK(run.done() == n);
    // Every record that is not poison was delivered or given up; none given up twice.
    std::vector<int> given_up(n, 0);
    for (const auto& e : actual)
      if (e.kind == Event::kGiveUp)
        for (std::size_t i = e.begin; i < e.end; ++i) ++given_up[i];
    for (std::size_t i = 0; i < n; ++i) CHECK(given_up[i] <= 1);
  }
}

}  // namespace
}  // namespace esm::pollers
