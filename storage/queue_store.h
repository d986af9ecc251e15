#pragma once
// QueueStore: the rows of the message queues (tables sqs_queues and sqs_messages). Stateless:
// every call takes the Connection (owned by DbWorker, so only the worker thread calls these).
// Rows and SQL only; what the columns mean belongs to services/sqs.
//
// Fallible calls return a Status: OK, or Internal for an SQLite failure (a failed read is an
// error, never an empty answer).

#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/sqlite.h"

namespace esm::storage {

struct QueueRow {
  std::int64_t id = 0;
  std::string region;
  std::string account;
  std::string name;
  std::map<std::string, std::string> attributes;
  std::map<std::string, std::string> tags;
  std::int64_t created_ms = 0;
  std::int64_t modified_ms = 0;
  std::int64_t next_sequence = 0;
};

struct MessageRow {
  std::int64_t rowid = 0;  // assigned by insert_message
  std::int64_t queue_id = 0;
  std::string message_id;
  std::string body;
  std::string attributes;  // encoded by the caller
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

// A message row's small columns, those the engine loads at start-up (no body, no attributes).
struct MessageIndexRow {
  std::int64_t rowid = 0;
  std::int64_t queue_id = 0;
  std::string message_id;
  std::int64_t sent_ms = 0;
  std::int64_t visible_at_ms = 0;
  int receive_count = 0;
  std::string group_id;
  std::string dedup_id;
  std::string sequence_number;
  bool moved_in = false;  // dlq_source_arn is set
};

Result<std::vector<QueueRow>> load_queue_rows(Connection& c);
// Every message of every queue, in insertion (rowid) order.
Result<std::vector<MessageRow>> load_message_rows(Connection& c);
// The index columns of every message, in rowid order, one call each (not kept in a vector).
Status for_each_message_index(Connection& c, const std::function<Status(MessageIndexRow&)>& fn);
// One message's row; nullopt when there is none.
Result<std::optional<MessageRow>> load_message_row(Connection& c, std::int64_t rowid);

// Inserts or replaces the row with this id.
Status put_queue_row(Connection& c, const QueueRow& q);
// Removes the queue row and all of its messages.
Status delete_queue_row(Connection& c, std::int64_t queue_id);

// Returns the new row's rowid.
Result<std::int64_t> insert_message_row(Connection& c, const MessageRow& m);
Status update_message_receive(Connection& c, std::int64_t rowid, std::int64_t visible_at_ms,
                              std::int64_t first_receive_ms, int receive_count);
Status update_message_visible_at(Connection& c, std::int64_t rowid, std::int64_t visible_at_ms);
Status delete_message_row(Connection& c, std::int64_t rowid);
// Every row from first to last (rowids, both included): one statement for a run of messages.
Status delete_message_range(Connection& c, std::int64_t first, std::int64_t last);
Status delete_message_rows_of(Connection& c, std::int64_t queue_id);
Result<std::int64_t> count_message_rows(Connection& c, std::int64_t queue_id);

}  // namespace esm::storage
