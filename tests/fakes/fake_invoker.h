#pragma once
// FakeInvoker: an Invoker (core/invoke.h) that answers from a script instead of running a
// function, and records every event it was given.
//
// Each call takes the next scripted Answer (or, when the script is empty, the responder's
// answer for the request, else success with an empty body). The answer arrives through the
// FakeScheduler after its delay (0: at the next advance_ms(0) or settle), never inline, as
// the real invoker promises; a held answer waits until release().

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/invoke.h"
#include "tests/fakes/fake_scheduler.h"

namespace esm::testing {

struct Answer {
  InvokeOutcome outcome;
  std::int64_t delay_ms = 0;
  bool hold = false;  // answered only by FakeInvoker::release()

  static Answer success(std::string body = "") {
    Answer a;
    a.outcome.status = InvokeStatus::kSuccess;
    a.outcome.http_status = 200;
    a.outcome.payload = std::move(body);
    return a;
  }
  static Answer function_error(std::string body = R"({"errorMessage":"boom"})") {
    Answer a;
    a.outcome.status = InvokeStatus::kFunctionError;
    a.outcome.http_status = 200;
    a.outcome.function_error = "Unhandled";
    a.outcome.payload = std::move(body);
    return a;
  }
  static Answer invoke_error(int http_status = 502, std::string detail = "connection refused") {
    Answer a;
    a.outcome.status = InvokeStatus::kInvokeError;
    a.outcome.http_status = http_status;
    a.outcome.detail = std::move(detail);
    return a;
  }
  // A ReportBatchItemFailures response naming the failed item identifiers.
  static Answer partial(const std::vector<std::string>& failed_ids) {
    std::string body = R"({"batchItemFailures":[)";
    for (std::size_t i = 0; i < failed_ids.size(); ++i)
      body += (i ? "," : "") + std::string(R"({"itemIdentifier":")") + failed_ids[i] + "\"}";
    return success(body + "]}");
  }
  Answer after(std::int64_t ms) && {
    delay_ms = ms;
    return std::move(*this);
  }
  Answer held() && {
    hold = true;
    return std::move(*this);
  }
};

class FakeInvoker final : public Invoker {
 public:
  explicit FakeInvoker(FakeScheduler& scheduler) : scheduler_(scheduler) {}

  // Answers for the next calls, in order.
  void script(Answer a) {
    std::lock_guard lk(mu_);
    script_.push_back(std::move(a));
  }
  // Answers the calls the script does not cover, from the request.
  void respond_with(std::function<Answer(const InvokeRequest&)> responder) {
    std::lock_guard lk(mu_);
    responder_ = std::move(responder);
  }

  void invoke(InvokeRequest req, std::function<void(InvokeOutcome)> done) override {
    Answer a;
    {
      std::lock_guard lk(mu_);
      if (!script_.empty()) {
        a = std::move(script_.front());
        script_.pop_front();
      } else if (responder_) {
        a = responder_(req);
      } else {
        a = Answer::success();
      }
      events_.push_back(req);
      if (a.hold) {
        held_.emplace_back(std::move(a.outcome), std::move(done));
        return;
      }
    }
    scheduler_.run_at(scheduler_.now_ms() + a.delay_ms,
                      [done = std::move(done), o = std::move(a.outcome)]() mutable { done(std::move(o)); });
  }

  // Answers the held calls now (through the scheduler, so never inline).
  void release() {
    std::vector<std::pair<InvokeOutcome, std::function<void(InvokeOutcome)>>> held;
    {
      std::lock_guard lk(mu_);
      held.swap(held_);
    }
    for (auto& [o, done] : held)
      scheduler_.run_at(scheduler_.now_ms(), [done = std::move(done), o = std::move(o)]() mutable { done(std::move(o)); });
  }

  // Drops the held calls unanswered; for a test's teardown.
  void clear() {
    std::vector<std::pair<InvokeOutcome, std::function<void(InvokeOutcome)>>> held;
    std::lock_guard lk(mu_);
    held.swap(held_);
  }

  std::vector<InvokeRequest> events() const {
    std::lock_guard lk(mu_);
    return events_;
  }
  std::size_t calls() const {
    std::lock_guard lk(mu_);
    return events_.size();
  }
  std::size_t held() const {
    std::lock_guard lk(mu_);
    return held_.size();
  }

 private:
  FakeScheduler& scheduler_;
  mutable std::mutex mu_;
  std::deque<Answer> script_;
  std::function<Answer(const InvokeRequest&)> responder_;
  std::vector<InvokeRequest> events_;
  std::vector<std::pair<InvokeOutcome, std::function<void(InvokeOutcome)>>> held_;
};

}  // namespace esm::testing
