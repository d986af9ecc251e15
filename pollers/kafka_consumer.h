#pragma once
// KafkaConsumer: the seam between the Kafka poller (pollers/kafka_poller.h) and a Kafka
// cluster. The real one is librdkafka's consumer (pollers/rdkafka_consumer.h), so the same code
// reads esmd's own broker and any real cluster; the unit tests script a fake.
//
// The consumer belongs to one mapping: it joins the mapping's consumer group, subscribes to its
// one topic, and resolves the starting position for the partitions the group has no committed
// offset for — once, committing it, so that a restart resumes where the mapping started
// (data-plane.md §4, kafka.md B.4). LATEST is the partition's end when the mapping began to
// read: for a topic that did not exist yet, its start. Offsets reach the cluster only through
// commit().
//
// Threading: open() and the other members on the poller's strand; the `wake` callback runs on
// a librdkafka thread (or inline) whenever something may be waiting for poll().

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace esm::pollers {

struct KafkaHeader {
  std::string name;
  std::optional<std::string> value;  // nullopt: a null header value
};

struct KafkaMessage {
  std::string topic;
  int partition = 0;
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = 0;
  bool log_append_time = false;  // timestampType LOG_APPEND_TIME, else CREATE_TIME
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<KafkaHeader> headers;
};

// Where a partition's next read starts, committed as Kafka does: the next offset to read.
struct KafkaOffset {
  std::string topic;
  int partition = 0;
  std::int64_t next = 0;
};

struct KafkaConsumerConfig {
  std::string bootstrap;  // "host:port,host:port"
  std::string group_id;
  std::string topic;
  // Where a partition without a committed offset starts: "TRIM_HORIZON", "LATEST" or
  // "AT_TIMESTAMP" (then at the first record at or after start_timestamp_ms).
  std::string starting_position = "TRIM_HORIZON";
  std::int64_t start_timestamp_ms = 0;
  std::string client_id;  // for the cluster's logs
};

// What a poll saw besides records.
struct KafkaPoll {
  std::vector<KafkaMessage> messages;
  // The cluster cannot be reached (or refused the consumer): the poller reports it in
  // LastProcessingResult. Cleared by the next poll that gets records or an assignment.
  std::optional<std::string> problem;
  // Partitions taken from this consumer by a rebalance: what was read from them and not
  // delivered is dropped (the group's new owner reads it from the committed offset).
  std::vector<std::pair<std::string, int>> revoked;
};

class KafkaConsumer {
 public:
  virtual ~KafkaConsumer() = default;

  // Joins the group and subscribes. `wake` is called (from any thread) when poll() may have
  // something; after a poll() that returned fewer than `max` messages the consumer calls it
  // again for the next arrival. An error: the configuration was refused (nothing to retry).
  virtual std::optional<std::string> open(std::function<void()> wake) = 0;
  // Up to max messages ready now, without waiting; serves the group's callbacks.
  virtual KafkaPoll poll(std::size_t max) = 0;
  // Commits, asynchronously, the next offset to read of each partition named.
  virtual void commit(const std::vector<KafkaOffset>& offsets) = 0;
  // Produces one record to `topic` of the same cluster (a kafka:// on-failure destination).
  // done(error) runs inside a later poll(), once the cluster acknowledged the record to all its
  // replicas (error empty) or refused it.
  virtual void send(const std::string& topic, std::optional<std::string> key, std::string value,
                    std::function<void(const std::string& error)> done) = 0;
  // Leaves the group and closes the connections, without waiting for the cluster: true once
  // closed. Until then the poller calls it again on each wake-up (and every few milliseconds);
  // nothing else is called after the first call.
  virtual bool close_step() = 0;
};

using KafkaConsumerFactory = std::function<std::unique_ptr<KafkaConsumer>(const KafkaConsumerConfig&)>;

}  // namespace esm::pollers
