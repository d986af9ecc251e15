#pragma once
// The queue service's in-memory model: a queue, its messages and its waiting long polls. The
// QueueEngine owns every Queue; the rows behind them are in storage/queue_store.

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
  // Set by send; empty in a received message until its reader calls fill_digests (rules.h).
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
};

// What memory keeps of a message (56 bytes): its timing and receive state. Everything else
// (body, attributes, ids, digests, first receive) is in its row, read by rowid when the
// message is received.
struct Group;
struct Slot {
  std::int64_t rowid = 0;
  std::int64_t sent_ms = 0;
  std::int64_t visible_at_ms = 0;
  std::uint64_t id_hash = 0;  // of the message id: tells a reused rowid from the message a handle names
  Group* group = nullptr;     // FIFO queues only
  int receive_count = 0;
  bool ready = false;      // in the ready order; else waiting for visible_at_ms
  bool in_flight = false;  // received and not yet visible again
  bool gone = false;       // deleted, not yet dropped from the deque
};

// A FIFO message group: its messages in send order and how many of them are in flight.
struct Group {
  std::string name;
  std::set<std::int64_t> rowids;
  int in_flight = 0;
  std::optional<std::int64_t> ready_key;  // its key in Queue::ready_groups, when it is there
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

  // The messages (services/sqs/message_index.cc). slots is in rowid (send) order: SQLite gives
  // a new row a rowid above every row it holds, so a send appends; a deletion leaves a
  // tombstone that is dropped from either end or by an occasional compaction. A message is
  // either ready (visible) or waiting for its visible_at_ms (delayed or in flight). The ready
  // ones of a standard queue are a min-heap of rowids; those of a FIFO queue are found through
  // ready_groups: the groups with nothing in flight whose oldest message is ready, by the rowid
  // of that message. Both heaps are lazy: an entry whose slot no longer matches is skipped.
  //
  //   waiting (delayed or in flight) -> ready   [promote, once visible_at_ms has come]
  //   ready -> in flight (waiting)              [mark_received]
  //   in flight -> in flight until a new time   [set_visible_at]
  //   any -> gone                               [remove]
  std::deque<Slot> slots;
  std::size_t live = 0;
  std::vector<std::int64_t> ready;                                 // min-heap of rowids
  std::vector<std::pair<std::int64_t, std::int64_t>> waiting;      // min-heap of (visible_at_ms, rowid)
  std::unordered_map<std::string, std::unique_ptr<Group>> groups;  // FIFO
  std::set<std::pair<std::int64_t, Group*>> ready_groups;

  std::size_t size() const { return live; }
  Slot* find(std::int64_t rowid);
  // Adds a message read from a row or just written: ready when visible_at_ms <= now_ms, in
  // flight when it was received and is not visible yet.
  void add(Slot s, const std::string& group_id, std::int64_t now_ms);
  void remove(std::int64_t rowid);
  void clear_messages();
  // Makes every waiting message whose time came ready (an in-flight one leaves flight).
  void promote(std::int64_t now_ms);
  // A received message: in flight until visible_at_ms.
  void mark_received(Slot& s, std::int64_t visible_at_ms);
  // A new visibility for an in-flight message (ready at the next promote when it is due).
  void set_visible_at(Slot& s, std::int64_t visible_at_ms);
  // The oldest ready message of a standard queue, or 0.
  std::int64_t first_ready();
  // The earliest time a waiting message may become ready.
  std::optional<std::int64_t> next_visible_at() const;
  // Puts a FIFO group in ready_groups or takes it out, as its state says; erases it when empty.
  void refresh(Group* g);
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
