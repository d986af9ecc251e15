#pragma once
// LogError: what the Kafka log refused, as a kind; api/kafka turns each into Kafka's error
// code (api/kafka/errors.cc).

namespace esm::kafka {

enum class LogError {
  kNone,
  kUnknownTopicOrPartition,   // no such topic, or no such partition of it
  kOffsetOutOfRange,          // a fetch below the log start or above the high watermark
  kCorruptMessage,            // a batch that does not parse or whose CRC is wrong
  kInvalidRecord,             // a batch whose records disagree with its header
  kMessageTooLarge,           // a batch above the topic's max.message.bytes
  kUnsupportedForMessageFormat,  // a batch with magic other than 2
  kInvalidTopic,              // a topic name outside Kafka's rules
  kTopicAlreadyExists,
  kInvalidPartitions,         // a partition count below 1 (or above the limit)
  kInvalidReplicationFactor,  // anything but 1 (or -1, the default) on one node
  kInvalidConfig,             // an unknown topic config or a bad value
  kOutOfOrderSequence,        // an idempotent producer's sequence gap
  kInvalidProducerEpoch,      // an idempotent producer's stale epoch
  kInvalidRequest,            // a transactional batch: esmd has no transactions
  kStorage,                   // SQLite failed (a server error)
};

}  // namespace esm::kafka
