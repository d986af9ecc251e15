// The Kafka front-end's error table: each kind the log engine or the group coordinator
// reports, as Kafka's error code.
#include "api/kafka/ops.h"

namespace esm::api {

std::int16_t error_code(kafka::LogError e) {
  using kafka::LogError;
  switch (e) {
    case LogError::kNone: return kafka_error::kNone;
    case LogError::kUnknownTopicOrPartition: return kafka_error::kUnknownTopicOrPartition;
    case LogError::kOffsetOutOfRange: return kafka_error::kOffsetOutOfRange;
    case LogError::kCorruptMessage: return kafka_error::kCorruptMessage;
    case LogError::kInvalidRecord: return kafka_error::kInvalidRecord;
    case LogError::kMessageTooLarge: return kafka_error::kMessageTooLarge;
    case LogError::kUnsupportedForMessageFormat: return kafka_error::kUnsupportedForMessageFormat;
    case LogError::kInvalidTopic: return kafka_error::kInvalidTopicException;
    case LogError::kTopicAlreadyExists: return kafka_error::kTopicAlreadyExists;
    case LogError::kInvalidPartitions: return kafka_error::kInvalidPartitions;
    case LogError::kInvalidReplicationFactor: return kafka_error::kInvalidReplicationFactor;
    case LogError::kInvalidConfig: return kafka_error::kInvalidConfig;
    case LogError::kOutOfOrderSequence: return kafka_error::kOutOfOrderSequenceNumber;
    case LogError::kInvalidProducerEpoch: return kafka_error::kInvalidProducerEpoch;
    case LogError::kInvalidRequest: return kafka_error::kInvalidRequest;
    case LogError::kStorage: return kafka_error::kKafkaStorageError;
  }
  return kafka_error::kUnknownServerError;
}

std::int16_t error_code(kafka::GroupError e) {
  using kafka::GroupError;
  switch (e) {
    case GroupError::kNone: return 0;
    case GroupError::kUnknownMemberId: return 25;
    case GroupError::kIllegalGeneration: return 22;
    case GroupError::kRebalanceInProgress: return 27;
    case GroupError::kInconsistentGroupProtocol: return 23;
    case GroupError::kInvalidGroupId: return 24;
    case GroupError::kMemberIdRequired: return 79;
    case GroupError::kInvalidSessionTimeout: return 26;
    case GroupError::kGroupIdNotFound: return 69;
    case GroupError::kNonEmptyGroup: return 68;
    case GroupError::kCoordinatorNotAvailable: return kafka_error::kCoordinatorNotAvailable;
  }
  return kafka_error::kUnknownServerError;
}

// Kafka's own sentences (CreateTopics' error_message), where a client shows them to people.
std::string error_message(kafka::LogError e, const std::string& topic) {
  using kafka::LogError;
  switch (e) {
    case LogError::kNone: return {};
    case LogError::kTopicAlreadyExists: return "Topic '" + topic + "' already exists.";
    case LogError::kInvalidTopic:
      return "Topic name \"" + topic +
             "\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'";
    case LogError::kInvalidPartitions: return "Number of partitions must be larger than 0.";
    case LogError::kInvalidReplicationFactor:
      return "Replication factor: larger than available brokers: 1.";
    case LogError::kInvalidConfig: return "Invalid config for topic " + topic + ".";
    case LogError::kUnknownTopicOrPartition: return "This server does not host this topic-partition.";
    default: return "The server experienced an unexpected error when processing the request.";
  }
}

}  // namespace esm::api
