#pragma once
// QueueEngine: esmd's SQS-compatible queues. The queues live in memory, and of each message
// only a small index entry (its rowid, timing and receive state: queue.h Slot); the messages
// themselves are in SQLite (storage/queue_store), read by rowid when received. Every change is
// written in the same DbWorker job that makes it, so it is committed before the client hears
// of it (a SendMessage that answered 200 survives kill -9).
//
// Semantics (data-plane.md §2): visibility timeouts, DelaySeconds, retention, receive counts,
// RedrivePolicy to a dead-letter queue on receive, FIFO group locks, deduplication and sequence
// numbers, long polling. Errors are typed (services/sqs/errors.h); api/ words them.
//
// Commit rule: a call writes its rows before it changes memory, and a receive's callback runs
// only after the commit (DbWorker::defer) and hears its status. When a commit fails anyway the
// DbWorker calls recover(): every waiting long poll is answered with kInternal and the memory
// is reloaded from disk, so no message the client was not told about survives in memory.
//
// Threading: DbWorker thread only (checked in debug builds).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/expected.h"
#include "core/status.h"
#include "services/sqs/errors.h"
#include "services/sqs/queue.h"
#include "storage/db_worker.h"
#include "storage/queue_store.h"
#include "storage/sqlite.h"

namespace esm::sqs {

using storage::Connection;

class QueueEngine {
 public:
  QueueEngine(storage::DbWorker& db, std::string account) : db_(db), account_(std::move(account)) {}

  // Loads every queue and message; at start-up, before the worker thread runs.
  Status load(Connection& c, std::int64_t now_ms);
  // The DbWorker's Recovery after a failed commit: answers every long poll with kInternal,
  // forgets everything and loads again from disk.
  Status recover(Connection& c, std::int64_t now_ms);

  Expected<Queue*, Error> create_queue(Connection& c, const std::string& region, const std::string& name,
                                       const std::map<std::string, std::string>& attributes,
                                       const std::map<std::string, std::string>& tags, std::int64_t now_ms);
  // kNonExistentQueue unless the queue exists in this region.
  Expected<Queue*, Error> find(const std::string& region, const std::string& name);
  Queue* find_by_arn(const std::string& arn);
  Expected<void, Error> delete_queue(Connection& c, Queue& q);
  std::vector<const Queue*> list(const std::string& region, const std::string& prefix) const;

  Expected<std::map<std::string, std::string>, Error> get_attributes(Queue& q, const std::vector<std::string>& names,
                                                                     std::int64_t now_ms);
  Expected<void, Error> set_attributes(Connection& c, Queue& q, const std::map<std::string, std::string>& attributes,
                                       std::int64_t now_ms);
  Expected<void, Error> tag(Connection& c, Queue& q, const std::map<std::string, std::string>& tags);
  Expected<void, Error> untag(Connection& c, Queue& q, const std::vector<std::string>& keys);

  Expected<SendResult, Error> send(Connection& c, Queue& q, SendInput in, std::int64_t now_ms);
  // Answers through cb after the commit: at once when messages are visible or wait_ms is 0,
  // else when a message arrives or the wait ends (with an empty list).
  void receive(Connection& c, Queue& q, const ReceiveOptions& opt, std::int64_t now_ms, ReceiveCallback cb);
  // Deleting a message that is already gone succeeds, as in SQS.
  Expected<void, Error> delete_message(Connection& c, Queue& q, const std::string& receipt_handle);
  // A poller's delivered batch: deletes the messages these handles name, a run of consecutive
  // rowids with one statement. Returns how many handles were invalid or named a message that
  // is gone (a stale receipt, a purge): those messages, if any, come again.
  Expected<std::size_t, Error> delete_messages(Connection& c, Queue& q, const std::vector<std::string>& receipt_handles);
  Expected<void, Error> change_visibility(Connection& c, Queue& q, const std::string& receipt_handle, int timeout_s,
                                          std::int64_t now_ms);
  // kPurgeQueueInProgress within kPurgeIntervalMs of the queue's last purge.
  Expected<void, Error> purge(Connection& c, Queue& q, std::int64_t now_ms);
  // Ends the long polls of this owner (after the commit) with no messages.
  void cancel_waiters(const std::string& owner);
  // Makes received messages visible again now (a poller that received them after it stopped).
  // Handles of messages no longer in flight are skipped; a database error is returned.
  Expected<void, Error> release(Connection& c, Queue& q, const std::vector<std::string>& receipt_handles,
                                std::int64_t now_ms);

  // DbWorker tick: expires long polls, wakes waiters whose messages became visible, drops
  // messages past retention. It looks only at queues that changed or whose time came, so its
  // cost does not grow with the number of queues.
  std::optional<std::int64_t> tick(Connection& c, std::int64_t now_ms);

  // For tests: how many messages receives have looked at, taken or dropped, since the start.
  // Messages in flight or delayed are never looked at.
  std::size_t take_visits() const { return take_visits_; }

 private:
  void clear();
  static storage::QueueRow row_of(const Queue& q);
  Expected<void, Error> check_dead_letter_target(const std::string& policy, bool fifo);
  Status expire(Connection& c, Queue& q, std::int64_t now_ms);
  // Marks a queue for the next tick (and wakes the worker so that the tick runs soon).
  void touch(Queue& q);
  // Runs the queue's timed work and schedules its next wake-up.
  Status process(Connection& c, Queue& q, std::int64_t now_ms);
  void schedule(Queue& q, std::optional<std::int64_t> at);
  Expected<std::vector<Received>, Error> take_visible(Connection& c, Queue& q, const ReceiveOptions& opt,
                                                      std::int64_t now_ms);
  // Moves a message past maxReceiveCount to the dead-letter queue; false when there is none.
  Expected<bool, Error> redrive(Connection& c, Queue& q, std::int64_t rowid, std::int64_t now_ms,
                                std::vector<Queue*>& redriven_to);
  Status serve_waiters(Connection& c, Queue& q, std::int64_t now_ms);
  // Answers a waiter after the commit: an empty list, or the messages it was given.
  void answer_after_commit(Waiter& w, ReceiveResult r);
  Status persist_queue(Connection& c, const Queue& q);
  Status insert_message(Connection& c, Queue& q, Message& m);
  Status remove_message(Connection& c, Queue& q, std::int64_t rowid);
  std::string next_sequence_number(Queue& q);
  // The message a receipt handle names: nullptr when that message is gone.
  Expected<Slot*, Error> decode_receipt(Queue& q, const std::string& handle);
  std::string receipt_for(const Queue& q, const Message& m) const;

  storage::DbWorker& db_;
  std::string account_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Queue>> queues_;  // (region, name)
  std::unordered_map<std::string, Queue*> by_arn_;
  std::int64_t next_queue_id_ = 1;
  std::multimap<std::int64_t, Queue*> wakeups_;
  std::set<Queue*> dirty_;
  std::size_t take_visits_ = 0;
};

}  // namespace esm::sqs
