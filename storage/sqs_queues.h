#pragma once
// QueueEngine: esmd's SQS-compatible queues. The queues and their messages live in memory for
// speed and in SQLite for durability: every change is written in the same DbWorker job that
// makes it, so it is committed before the client hears of it (a SendMessage that answered 200
// survives kill -9).
//
// Semantics (data-plane.md §2): visibility timeouts, DelaySeconds, retention, receive counts,
// RedrivePolicy to a dead-letter queue on receive, FIFO group locks, deduplication and sequence
// numbers, long polling.
//
// Threading: DbWorker thread only. Receive callbacks run after the commit that recorded the
// receive (DbWorker::defer).

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "storage/db_worker.h"
#include "storage/sqlite.h"

namespace esm::storage {

// Refines Status codes for the SQS wire formats (api/sqs_api.cc maps each to its codes).
enum class SqsError {
  kNone = 0,
  kNonExistentQueue,
  kQueueAlreadyExists,
  kInvalidParameterValue,
  kMissingParameter,
  kInvalidAttributeName,
  kInvalidAttributeValue,
  kReceiptHandleIsInvalid,
  kMessageNotInflight,
  kInvalidMessageContents,
  kTooManyEntriesInBatchRequest,
  kEmptyBatchRequest,
  kBatchEntryIdsNotDistinct,
  kInvalidBatchEntryId,
  kBatchRequestTooLong,
  kUnsupportedOperation,
  kInvalidAction,
  kInvalidQueryParameter,
  kOverLimit,
};
Status sqs_error(SqsError e, std::string message);

struct MessageAttribute {
  std::string name;
  std::string data_type;
  std::string value;  // StringValue, or the raw bytes of BinaryValue
  bool binary = false;
};

struct SqsMessage {
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

struct Queue {
  std::int64_t id = 0;
  std::string region;
  std::string account;
  std::string name;
  std::string arn;
  bool fifo = false;
  bool content_based_dedup = false;
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

  std::map<std::int64_t, SqsMessage> messages;  // by rowid: send order
  std::unordered_map<std::string, int> groups_in_flight;  // FIFO group -> in-flight count
  struct Dedup {
    std::int64_t expires_ms;
    std::string message_id;
    std::string sequence_number;
  };
  std::unordered_map<std::string, Dedup> dedup;
  struct Waiter;
  std::deque<std::shared_ptr<Waiter>> waiters;

  // When the engine's tick next needs to look at this queue (QueueEngine::schedule).
  std::optional<std::multimap<std::int64_t, Queue*>::iterator> wakeup;
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
  SqsMessage message;
  std::string receipt_handle;
};

using ReceiveCallback = std::function<void(Result<std::vector<Received>>)>;

struct Queue::Waiter {
  ReceiveOptions options;
  std::int64_t deadline_ms = 0;
  ReceiveCallback callback;
  bool done = false;
};

class QueueEngine {
 public:
  QueueEngine(DbWorker& db, std::string account) : db_(db), account_(std::move(account)) {}

  // Loads every queue and message; at start-up, before the worker thread runs.
  Status load(Connection& c, std::int64_t now_ms);

  Result<Queue*> create_queue(Connection& c, const std::string& region, const std::string& name,
                              const std::map<std::string, std::string>& attributes,
                              const std::map<std::string, std::string>& tags, std::int64_t now_ms);
  // NonExistentQueue unless the queue exists in this region.
  Result<Queue*> find(const std::string& region, const std::string& name);
  Queue* find_by_arn(const std::string& arn);
  Status delete_queue(Connection& c, Queue& q);
  std::vector<const Queue*> list(const std::string& region, const std::string& prefix) const;

  Result<std::map<std::string, std::string>> get_attributes(Queue& q, const std::vector<std::string>& names,
                                                             std::int64_t now_ms);
  Status set_attributes(Connection& c, Queue& q, const std::map<std::string, std::string>& attributes,
                        std::int64_t now_ms);
  Status tag(Connection& c, Queue& q, const std::map<std::string, std::string>& tags);
  Status untag(Connection& c, Queue& q, const std::vector<std::string>& keys);

  Result<SendResult> send(Connection& c, Queue& q, SendInput in, std::int64_t now_ms);
  // Answers through cb after the commit: at once when messages are visible or wait_ms is 0,
  // else when a message arrives or the wait ends (with an empty list).
  void receive(Connection& c, Queue& q, const ReceiveOptions& opt, std::int64_t now_ms, ReceiveCallback cb);
  Status delete_message(Connection& c, Queue& q, const std::string& receipt_handle);
  Status change_visibility(Connection& c, Queue& q, const std::string& receipt_handle, int timeout_s,
                           std::int64_t now_ms);
  Status purge(Connection& c, Queue& q);
  // Ends the long polls of this owner at once, with no messages.
  void cancel_waiters(const std::string& owner);
  // Makes received messages visible again now (a poller that received them after it stopped).
  void release(Connection& c, Queue& q, const std::vector<std::string>& receipt_handles, std::int64_t now_ms);

  // DbWorker tick: expires long polls, wakes waiters whose messages became visible, drops
  // messages past retention. It looks only at queues that changed or whose time came, so its
  // cost does not grow with the number of queues.
  std::optional<std::int64_t> tick(Connection& c, std::int64_t now_ms);

  // Checks a batch entry's message before sending (size, characters, attributes).
  Status validate_message(const Queue& q, const SendInput& in) const;

 private:
  // Every settable attribute with its value in effect, defaults included.
  static std::map<std::string, std::string> effective_attributes(const Queue& q);
  // InvalidParameterValue unless the RedrivePolicy names an existing queue of the same type.
  Status check_dead_letter_target(const std::string& policy, bool fifo);
  void expire(Connection& c, Queue& q, std::int64_t now_ms);
  // Marks a queue for the next tick (and wakes the worker so that the tick runs soon).
  void touch(Queue& q);
  // Runs the queue's timed work and schedules its next wake-up.
  void process(Connection& c, Queue& q, std::int64_t now_ms);
  void schedule(Queue& q, std::optional<std::int64_t> at);
  std::vector<Received> take_visible(Connection& c, Queue& q, const ReceiveOptions& opt, std::int64_t now_ms);
  void serve_waiters(Connection& c, Queue& q, std::int64_t now_ms);
  void apply_attributes(Queue& q);
  Status persist_queue(Connection& c, const Queue& q);
  Status insert_message(Connection& c, Queue& q, SqsMessage& m);
  Status remove_message(Connection& c, Queue& q, std::map<std::int64_t, SqsMessage>::iterator it);
  void release_group(Queue& q, SqsMessage& m);
  // The message a receipt handle names: NotFound (nullptr) when that message is gone.
  Result<SqsMessage*> decode_receipt(Queue& q, const std::string& handle);
  std::string receipt_for(const Queue& q, const SqsMessage& m) const;

  DbWorker& db_;
  std::string account_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Queue>> queues_;  // (region, name)
  std::unordered_map<std::string, Queue*> by_arn_;
  std::int64_t next_queue_id_ = 1;
  std::multimap<std::int64_t, Queue*> wakeups_;
  std::set<Queue*> dirty_;
};

// AWS's MD5OfMessageAttributes over attributes sorted by name.
std::string md5_of_attributes(const std::vector<MessageAttribute>& attributes);

// The total size SendMessageBatch may carry, bodies and attributes together, and the largest
// MaximumMessageSize (AWS raised both to 1 MiB in 2025).
inline constexpr std::size_t kMaxBatchPayload = 1048576;

// The size SQS counts for a message: body plus each attribute's name, type and value.
std::size_t message_size(const SendInput& in);

}  // namespace esm::storage
