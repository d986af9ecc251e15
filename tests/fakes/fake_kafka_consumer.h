#pragma once
// FakeKafkaCluster: what the Kafka poller's consumers (pollers/kafka_consumer.h) read in a unit
// test. The test appends records and they become pollable at once (the consumer's wake-up is
// called, as librdkafka's queue callback does); every commit is recorded. The factory hands the
// poller consumers over this one cluster; a consumer opened reads each partition from its
// committed offset (0 when none), as a group member does.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pollers/kafka_consumer.h"

namespace esm::testing {

class FakeKafkaCluster : public std::enable_shared_from_this<FakeKafkaCluster> {
 public:
  // Appends a record to topic/partition at the partition's next offset.
  void produce(const std::string& topic, int partition, std::string value, std::optional<std::string> key = {},
               std::int64_t timestamp_ms = 1'700'000'000'000) {
    std::function<void()> wake;
    {
      std::lock_guard lk(mu_);
      pollers::KafkaMessage m;
      m.topic = topic;
      m.partition = partition;
      auto& log = logs_[{topic, partition}];
      m.offset = static_cast<std::int64_t>(log.size());
      m.timestamp_ms = timestamp_ms;
      m.key = std::move(key);
      m.value = std::move(value);
      log.push_back(std::move(m));
      wake = wake_;
    }
    if (wake) wake();
  }
  void set_problem(std::optional<std::string> p) {
    std::function<void()> wake;
    {
      std::lock_guard lk(mu_);
      problem_ = std::move(p);
      wake = wake_;
    }
    if (wake) wake();
  }
  void revoke(const std::string& topic, int partition) {
    std::lock_guard lk(mu_);
    revoked_.emplace_back(topic, partition);
  }

  // What kafka:// destinations were sent, in order.
  std::vector<pollers::KafkaMessage> sent() const {
    std::lock_guard lk(mu_);
    return sent_;
  }
  void refuse_sends(bool refuse) {
    std::lock_guard lk(mu_);
    refuse_sends_ = refuse;
  }

  // The committed next offset of a partition, or -1.
  std::int64_t committed(const std::string& topic, int partition) const {
    std::lock_guard lk(mu_);
    auto it = committed_.find({topic, partition});
    return it == committed_.end() ? -1 : it->second;
  }
  int commits() const {
    std::lock_guard lk(mu_);
    return commits_;
  }
  int opened() const {
    std::lock_guard lk(mu_);
    return opened_;
  }
  int closed() const {
    std::lock_guard lk(mu_);
    return closed_;
  }
  // Records not read yet by the open consumer.
  std::size_t unread() const {
    std::lock_guard lk(mu_);
    std::size_t n = 0;
    for (const auto& [tp, log] : logs_) {
      auto it = position_.find(tp);
      n += log.size() - static_cast<std::size_t>(it == position_.end() ? 0 : it->second);
    }
    return n;
  }
  std::optional<pollers::KafkaConsumerConfig> last_config() const {
    std::lock_guard lk(mu_);
    return config_;
  }

  pollers::KafkaConsumerFactory factory() {
    return [self = shared_from_this()](const pollers::KafkaConsumerConfig& c) -> std::unique_ptr<pollers::KafkaConsumer> {
      {
        std::lock_guard lk(self->mu_);
        self->config_ = c;
      }
      return std::make_unique<Consumer>(self);
    };
  }

 private:
  class Consumer final : public pollers::KafkaConsumer {
   public:
    explicit Consumer(std::shared_ptr<FakeKafkaCluster> c) : c_(std::move(c)) {}
    std::optional<std::string> open(std::function<void()> wake) override {
      std::lock_guard lk(c_->mu_);
      ++c_->opened_;
      c_->wake_ = std::move(wake);
      c_->position_ = c_->committed_;
      return std::nullopt;
    }
    pollers::KafkaPoll poll(std::size_t max) override {
      std::vector<std::function<void()>> acks;
      {
        std::lock_guard lk(c_->mu_);
        acks.swap(c_->acks_);
      }
      for (auto& a : acks) a();
      std::lock_guard lk(c_->mu_);
      pollers::KafkaPoll out;
      for (auto& [tp, log] : c_->logs_) {
        auto& at = c_->position_[tp];
        while (at < static_cast<std::int64_t>(log.size()) && out.messages.size() < max)
          out.messages.push_back(log[static_cast<std::size_t>(at++)]);
      }
      out.problem = c_->problem_;
      out.revoked = std::exchange(c_->revoked_, {});
      return out;
    }
    void commit(const std::vector<pollers::KafkaOffset>& offsets) override {
      std::lock_guard lk(c_->mu_);
      ++c_->commits_;
      for (const auto& o : offsets) c_->committed_[{o.topic, o.partition}] = o.next;
    }
    void send(const std::string& topic, std::optional<std::string> key, std::string value,
              std::function<void(const std::string&)> done) override {
      std::function<void()> wake;
      {
        std::lock_guard lk(c_->mu_);
        pollers::KafkaMessage m;
        m.topic = topic;
        m.key = std::move(key);
        m.value = std::move(value);
        c_->sent_.push_back(std::move(m));
        c_->acks_.push_back([done = std::move(done), refuse = c_->refuse_sends_] { done(refuse ? "refused" : ""); });
        wake = c_->wake_;
      }
      if (wake) wake();
    }
    bool close_step() override {
      std::lock_guard lk(c_->mu_);
      ++c_->closed_;
      c_->wake_ = nullptr;
      return true;
    }

   private:
    std::shared_ptr<FakeKafkaCluster> c_;
  };

  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, std::vector<pollers::KafkaMessage>> logs_;
  std::map<std::pair<std::string, int>, std::int64_t> position_;
  std::map<std::pair<std::string, int>, std::int64_t> committed_;
  std::vector<std::pair<std::string, int>> revoked_;
  std::optional<std::string> problem_;
  std::vector<pollers::KafkaMessage> sent_;
  std::vector<std::function<void()>> acks_;
  bool refuse_sends_ = false;
  std::function<void()> wake_;
  std::optional<pollers::KafkaConsumerConfig> config_;
  int commits_ = 0, opened_ = 0, closed_ = 0;
};

}  // namespace esm::testing
