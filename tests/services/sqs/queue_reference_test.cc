// The queue engine against a naive reference model of a queue: random sends, receives with a
// visibility timeout, deletes, visibility changes, time passing, FIFO groups, retention and
// reloads from disk, on both the engine and the model, comparing every answer.
// ESMD_SQS_SEED=<n> replays one run.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <random>
#include <set>

#include "tests/services/sqs/queue_fixture.h"

using namespace esm;
using namespace esm::testing;

namespace {

// What a queue is, written as plainly as possible: messages in send order, each visible from
// visible_at; a receive takes the visible ones in order, and on a FIFO queue skips every group
// that has a message in flight from before this receive.
struct ModelMessage {
  std::string body;
  std::string group;
  std::int64_t sent_ms = 0;
  std::int64_t visible_at_ms = 0;
  int receive_count = 0;
};

class Model {
 public:
  Model(bool fifo, std::int64_t retention_ms) : fifo_(fifo), retention_ms_(retention_ms) {}

  void send(const std::string& body, const std::string& group, int delay_s, std::int64_t now) {
    messages_.push_back({body, group, now, now + delay_s * 1000LL, 0});
  }
  std::vector<ModelMessage> receive(int max, int visibility_s, std::int64_t now) {
    expire(now);
    std::set<std::string> locked;
    if (fifo_)
      for (const auto& m : messages_)
        if (m.visible_at_ms > now) locked.insert(m.group);
    std::vector<ModelMessage> out;
    for (auto& m : messages_) {
      if (static_cast<int>(out.size()) == max) break;
      if (m.visible_at_ms > now || locked.count(m.group)) continue;
      ++m.receive_count;
      m.visible_at_ms = now + visibility_s * 1000LL;
      out.push_back(m);
    }
    return out;
  }
  void erase(const std::string& body) {
    std::erase_if(messages_, [&](const ModelMessage& m) { return m.body == body; });
  }
  // True when the message is in flight (and so its visibility may change).
  bool change_visibility(const std::string& body, int timeout_s, std::int64_t now) {
    expire(now);
    for (auto& m : messages_) {
      if (m.body != body) continue;
      if (m.receive_count == 0 || m.visible_at_ms <= now) return false;
      m.visible_at_ms = now + timeout_s * 1000LL;
      return true;
    }
    return false;
  }
  // (visible, in flight, delayed)
  std::tuple<int, int, int> counts(std::int64_t now) {
    expire(now);
    int visible = 0, in_flight = 0, delayed = 0;
    for (const auto& m : messages_) {
      if (m.visible_at_ms <= now) ++visible;
      else if (m.receive_count > 0) ++in_flight;
      else ++delayed;
    }
    return {visible, in_flight, delayed};
  }

 private:
  void expire(std::int64_t now) {
    std::erase_if(messages_, [&](const ModelMessage& m) { return m.sent_ms + retention_ms_ <= now; });
  }

  bool fifo_;
  std::int64_t retention_ms_;
  std::vector<ModelMessage> messages_;
};

std::uint32_t seed_from_env(std::uint32_t fallback) {
  const char* s = std::getenv("ESMD_SQS_SEED");
  return s ? static_cast<std::uint32_t>(std::strtoul(s, nullptr, 10)) : fallback;
}

void run(bool fifo, std::uint32_t seed) {
  INFO("seed " << seed << " (ESMD_SQS_SEED=" << seed << " replays it), " << (fifo ? "FIFO" : "standard") << " queue");
  std::mt19937 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  constexpr int kRetentionS = 600;
  QueueFixture f;
  const std::string name = fifo ? "q.fifo" : "q";
  std::map<std::string, std::string> attrs{{"MessageRetentionPeriod", std::to_string(kRetentionS)}};
  if (fifo) attrs["FifoQueue"] = "true";
  f.create(name, attrs);
  Model model(fifo, kRetentionS * 1000LL);
  std::vector<std::pair<std::string, std::string>> receipts;  // (handle, body)
  std::string last_sequence;
  int sent = 0;
  for (int step = 0; step < 400; ++step) {
    const int op = pick(0, 99);
    const std::int64_t now = f.clock.now_ms();
    INFO("step " << step << ", op " << op << ", t+" << (now - 1'700'000'000'000) << " ms");
    if (op < 30) {
      SendInput in;
      in.body = "m" + std::to_string(sent++);
      int delay = 0;
      if (fifo) {
        in.group_id = "g" + std::to_string(pick(0, 2));
        in.dedup_id = in.body;
      } else if (pick(0, 3) == 0) {
        delay = pick(1, 30);
        in.delay_s = delay;
      }
      auto r = f.send(name, in);
      REQUIRE(r);
      if (fifo) {
        CHECK(r->sequence_number > last_sequence);
        last_sequence = r->sequence_number;
      }
      model.send(in.body, in.group_id, delay, now);
    } else if (op < 60) {
      const int max = pick(1, 10), vt = pick(0, 60);
      auto got = f.receive_ok(name, max, vt);
      auto want = model.receive(max, vt, now);
      REQUIRE(got.size() == want.size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].message.body == want[i].body);
        CHECK(got[i].message.receive_count == want[i].receive_count);
        receipts.emplace_back(got[i].receipt_handle, got[i].message.body);
      }
    } else if (op < 70 && !receipts.empty()) {
      const auto [handle, body] = receipts[static_cast<std::size_t>(pick(0, static_cast<int>(receipts.size()) - 1))];
      REQUIRE(f.delete_message(name, handle));
      model.erase(body);
    } else if (op < 80 && !receipts.empty()) {
      const auto [handle, body] = receipts[static_cast<std::size_t>(pick(0, static_cast<int>(receipts.size()) - 1))];
      const int timeout = pick(0, 60);
      auto r = f.change_visibility(name, handle, timeout);
      const bool expected = model.change_visibility(body, timeout, now);
      CHECK(static_cast<bool>(r) == expected);
      if (!r) CHECK(r.error().kind == ErrorKind::kMessageNotInflight);
    } else if (op < 94) {
      f.advance_s(pick(0, 40));
    } else if (op < 97) {
      auto [visible, in_flight, delayed] = model.counts(now);
      auto a = f.attributes(name);
      CHECK(std::stoi(a.at("ApproximateNumberOfMessages")) == visible);
      CHECK(std::stoi(a.at("ApproximateNumberOfMessagesNotVisible")) == in_flight);
      CHECK(std::stoi(a.at("ApproximateNumberOfMessagesDelayed")) == delayed);
    } else {
      // Memory thrown away and loaded from disk: nothing the model knows may change.
      REQUIRE(f.db.run_sync([&](Connection& c) { return f.engine.recover(c, f.clock.now_ms()); }).is_ok());
    }
  }
}

}  // namespace

TEST_CASE("a standard queue answers as the reference model does, step by step") {
  const std::uint32_t base = seed_from_env(20261202u);
  const int runs = std::getenv("ESMD_SQS_SEED") ? 1 : 5;
  for (int i = 0; i < runs; ++i) run(false, base + static_cast<std::uint32_t>(i));
}

TEST_CASE("a FIFO queue answers as the reference model does, step by step") {
  const std::uint32_t base = seed_from_env(20261202u);
  const int runs = std::getenv("ESMD_SQS_SEED") ? 1 : 5;
  for (int i = 0; i < runs; ++i) run(true, base + static_cast<std::uint32_t>(i));
}
