#pragma once
// What Lambda sends for an MSK or self-managed Kafka mapping (data-plane.md §1.5, §1.6,
// kafka.md B.1–B.2) and the view FilterCriteria patterns see of one record (filtering.md §6).
// Pure functions, unit-tested on their own.
//
//   {"eventSource":"aws:kafka","eventSourceArn":"<cluster ARN>","bootstrapServers":"h:p,h:p",
//    "records":{"orders-0":[{"topic":"orders","partition":0,"offset":15,"timestamp":...,
//      "timestampType":"CREATE_TIME","key":"<base64>","value":"<base64>",
//      "headers":[{"trace-id":[97,98,-61]}]}]}}
//
// Self-managed: "eventSource":"SelfManagedKafka" and no eventSourceArn. A record without a key
// has no `key` member, one with a null value no `value`; header bytes are signed (-128..127),
// one object per header in record order.

#include <cstddef>
#include <string>
#include <vector>

#include "pollers/filter.h"
#include "pollers/kafka_consumer.h"
#include "pollers/kinesis_event.h"
#include "pollers/stream_policy.h"

namespace esm::pollers {

struct KafkaEventSource {
  bool msk = true;
  std::string cluster_arn;  // MSK only
  std::string bootstrap;    // "host:port,host:port"
};

// "<topic>-<partition>": the event's key for a partition, and the partition an item
// identifier of a partial batch response names.
std::string kafka_partition_key(const std::string& topic, int partition);

// One record of the event, serialized.
std::string kafka_record_json(const KafkaMessage& m);

// The records of one partition, in offset order, serialized by kafka_record_json.
struct KafkaPartitionRecords {
  std::string key;  // kafka_partition_key
  std::vector<std::string> records;
};

// The event around the partitions' records, in the order given, and its exact size.
std::string kafka_event_json(const KafkaEventSource& src, const std::vector<KafkaPartitionRecords>& partitions);
// The size of the event with no partition; each partition adds kafka_partition_overhead(key)
// plus its records' bytes and one comma between records.
std::size_t kafka_event_base_size(const KafkaEventSource& src);
std::size_t kafka_partition_overhead(const std::string& key);

// Whether the record passes the mapping's filter: the pattern sees the record's members, with
// `value` decoded from base64 and parsed as JSON when it is JSON text, else the plain string
// (absent when not UTF-8); `key` and `headers` as the event carries them.
bool kafka_record_passes(const EventFilter& filter, const KafkaMessage& m);

// Records of a batch given up (data-plane.md §4, kafka.md B.5), in the event's order.
struct KafkaFailedRecord {
  std::string partition_key;  // "<topic>-<partition>"
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = 0;
  std::string json;  // the record as the event carried it
};
struct KafkaFailure {
  std::string request_id;
  std::string function_arn;
  Condition condition = Condition::kRetryAttemptsExhausted;
  int approximate_invoke_count = 1;
  std::optional<FailureResponse> response;  // absent for RecordAgeExceeded
  std::int64_t timestamp_ms = 0;
  std::vector<KafkaFailedRecord> records;
};

// The on-failure record of an SQS or SNS destination: KafkaBatchInfo with recordsInfo keyed by
// partition (offsets as strings, timestamps ISO 8601); with_payload (S3) adds "payload", the
// event of the records given up as a JSON string.
std::string kafka_failure_record_json(const KafkaEventSource& src, const KafkaFailure& f, bool with_payload);
// The message a kafka://<topic> destination gets for record i: KafkaBatchInfo.recordInfo and
// "payload", the one-record event as an object; the condition spelled RetriesExhausted.
std::string kafka_topic_failure_json(const KafkaEventSource& src, const KafkaFailure& f, std::size_t i);

// A record as a partial batch response names it: {"partition":"<topic>-<partition>","offset":n}.
struct KafkaItemId {
  std::string partition;
  std::int64_t offset = 0;
};

// Judges an outcome for records [begin, end) of a batch whose records are `ids` (kafka.md B.5):
// as judge_stream_batch, with Kafka's item identifier, an object of the partition key and the
// offset as a number. An identifier that names no record of [begin, end) fails the batch. The
// partial failure starts at the lowest index named.
Judgement judge_kafka_batch(const InvokeOutcome& outcome, bool report_item_failures,
                            const std::vector<KafkaItemId>& ids, std::size_t begin, std::size_t end);

}  // namespace esm::pollers
