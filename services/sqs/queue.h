#pragma once
// The queue service's in-memory model: a queue, its messages and its waiting long polls. The
// QueueEngine owns every Queue; the rows behind them are in storage/queue_store.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/expected.h"
#include "services/sqs/errors.h"

namespace esm::sqs {

struct MessageAttribute {
  std::string name;
  std::string data_type;
  std::string value;  // StringValue, or the raw bytes of BinaryValue
  bool binary = false;
};

struct Message {
  std::int64_t rowid = 0;
  std::string message_id;
  std::string body;
  std::vector<MessageAttribute> attributes;  // sorted by name
  std::string md5_body;
  std::string md5_attributes;  // empty without attributes
  std::int64_t sent_ms = 0;
  std::int64_t visible_at_ms = 0;
  std::int64_t first_receive_ms = 0;
  int receive_count = 0;
  std::string group_id;
  std::string dedup_id;
  std::string sequence_number;
  std::string sender_id;
  std::string trace_header;
  std::string dlq_source_arn;
  std::string receipt_nonce;  // changes on every receive
  bool in_flight = false;     // received and not yet visible again
};

struct RedrivePolicy {
  std::string dead_letter_arn;
  int max_receive_count = 0;
};

struct SendInput {
  std::string body;
  std::optional<int> delay_s;
  std::vector<MessageAttribute> attributes;
  std::string trace_header;
  std::string group_id;
  std::string dedup_id;
  std::string sender_id;
};

struct SendResult {
  std::string message_id;
  std::string md5_body;
  std::string md5_attributes;
  std::string sequence_number;
  std::string md5_system_attributes;  // of AWSTraceHeader, when sent
};

struct ReceiveOptions {
  int max_messages = 1;
  std::optional<int> visibility_timeout_s;
  std::int64_t wait_ms = 0;
  std::string owner;  // lets the owner cancel its long poll (a poller being disabled)
};

// A received message: a copy, plus the receipt handle of this receive.
struct Received {
  Message message;
  std::string receipt_handle;
};

// What a receive hears, after the commit: the messages (maybe none), kNonExistentQueue when the
// queue was deleted during a long poll, kInternal when the commit failed or the database was
// recovering.
using ReceiveResult = Expected<std::vector<Received>, Error>;
using ReceiveCallback = std::function<void(ReceiveResult)>;

struct Waiter {
  ReceiveOptions options;
  std::int64_t deadline_ms = 0;
  ReceiveCallback callback;
  bool done = false;
};

struct Queue {
  std::int64_t id = 0;
  std::string region;
  std::string account;
  std::string name;
  std::string arn;
  bool fifo = false;
  bool content_based_dedup = false;
  bool dedup_per_group = false;  // DeduplicationScope messageGroup
  int visibility_timeout_s = 30;
  int delay_s = 0;
  int retention_s = 345600;
  int max_message_size = 1048576;
  int receive_wait_s = 0;
  std::optional<RedrivePolicy> redrive;
  std::map<std::string, std::string> attributes;  // every settable attribute as last set
  std::map<std::string, std::string> tags;
  std::int64_t created_ms = 0;
  std::int64_t modified_ms = 0;
  std::int64_t next_sequence = 0;
  // The last PurgeQueue, in memory only: a restart forgets it, and the next purge is allowed.
  std::optional<std::int64_t> purged_ms;

  std::map<std::int64_t, Message> messages;  // by rowid: send order
  std::unordered_map<std::string, int> groups_in_flight;  // FIFO group -> in-flight count
  struct Dedup {
    std::int64_t expires_ms;
    std::string message_id;
    std::string sequence_number;
  };
  std::unordered_map<std::string, Dedup> dedup;
  std::deque<std::shared_ptr<Waiter>> waiters;

  // When the engine's tick next needs to look at this queue (QueueEngine::schedule).
  std::optional<std::multimap<std::int64_t, Queue*>::iterator> wakeup;
};

}  // namespace esm::sqs
