#include "storage/queue_store.h"

#include "storage/json_map.h"

namespace esm::storage {

Result<std::vector<QueueRow>> load_queue_rows(Connection& c) {
  Statement& st = c.prepare(
      "SELECT id, region, account, name, attributes, tags, created_ms, modified_ms, next_sequence FROM sqs_queues "
      "ORDER BY id");
  std::vector<QueueRow> out;
  while (st.step()) {
    QueueRow q;
    q.id = st.int64(0);
    q.region = st.text(1);
    q.account = st.text(2);
    q.name = st.text(3);
    q.attributes = decode_string_map(st.text(4));
    q.tags = decode_string_map(st.text(5));
    q.created_ms = st.int64(6);
    q.modified_ms = st.int64(7);
    q.next_sequence = st.int64(8);
    out.push_back(std::move(q));
  }
  if (Status s = st.status(); !s.is_ok()) return s;
  st.reset();
  return out;
}

// The columns of a whole message row, in the order read_message_row reads them.
#define ESMD_MESSAGE_COLUMNS                                                                              \
  "rowid, queue_id, message_id, body, attributes, sent_ms, visible_at_ms, first_receive_ms, receive_count, " \
  "group_id, dedup_id, sequence_number, sender_id, trace_header, dlq_source_arn"

namespace {

MessageRow read_message_row(Statement& st) {
  MessageRow m;
  m.rowid = st.int64(0);
  m.queue_id = st.int64(1);
  m.message_id = st.text(2);
  m.body = st.text(3);
  m.attributes = st.text(4);
  m.sent_ms = st.int64(5);
  m.visible_at_ms = st.int64(6);
  m.first_receive_ms = st.int64(7);
  m.receive_count = st.int32(8);
  m.group_id = st.text(9);
  m.dedup_id = st.text(10);
  m.sequence_number = st.text(11);
  m.sender_id = st.text(12);
  m.trace_header = st.text(13);
  m.dlq_source_arn = st.text(14);
  return m;
}

}  // namespace

Result<std::vector<MessageRow>> load_message_rows(Connection& c) {
  Statement& st = c.prepare("SELECT " ESMD_MESSAGE_COLUMNS " FROM sqs_messages ORDER BY rowid");
  std::vector<MessageRow> out;
  while (st.step()) out.push_back(read_message_row(st));
  if (Status s = st.status(); !s.is_ok()) return s;
  st.reset();
  return out;
}

Status for_each_message_index(Connection& c, const std::function<Status(MessageIndexRow&)>& fn) {
  Statement& st = c.prepare(
      "SELECT rowid, queue_id, message_id, sent_ms, visible_at_ms, receive_count, group_id, dedup_id, "
      "sequence_number, dlq_source_arn != '' FROM sqs_messages ORDER BY rowid");
  MessageIndexRow m;
  while (st.step()) {
    m.rowid = st.int64(0);
    m.queue_id = st.int64(1);
    m.message_id = st.text(2);
    m.sent_ms = st.int64(3);
    m.visible_at_ms = st.int64(4);
    m.receive_count = st.int32(5);
    m.group_id = st.text(6);
    m.dedup_id = st.text(7);
    m.sequence_number = st.text(8);
    m.moved_in = st.int64(9) != 0;
    if (Status s = fn(m); !s.is_ok()) {
      st.reset();
      return s;
    }
  }
  Status s = st.status();
  st.reset();
  return s;
}

Result<std::optional<MessageRow>> load_message_row(Connection& c, std::int64_t rowid) {
  Statement& st = c.prepare("SELECT " ESMD_MESSAGE_COLUMNS " FROM sqs_messages WHERE rowid = ?");
  st.bind(1, rowid);
  if (!st.step()) {
    Status s = st.status();
    st.reset();
    if (!s.is_ok()) return s;
    return std::optional<MessageRow>{};
  }
  MessageRow m = read_message_row(st);
  st.reset();
  return std::optional<MessageRow>{std::move(m)};
}

Status put_queue_row(Connection& c, const QueueRow& q) {
  Statement& st = c.prepare(
      "REPLACE INTO sqs_queues(id, region, account, name, attributes, tags, created_ms, modified_ms, next_sequence) "
      "VALUES(?,?,?,?,?,?,?,?,?)");
  st.bind(1, q.id)
      .bind(2, q.region)
      .bind(3, q.account)
      .bind(4, q.name)
      .bind(5, encode_string_map(q.attributes))
      .bind(6, encode_string_map(q.tags))
      .bind(7, q.created_ms)
      .bind(8, q.modified_ms)
      .bind(9, q.next_sequence);
  return st.run();
}

Status delete_queue_row(Connection& c, std::int64_t queue_id) {
  if (Status s = delete_message_rows_of(c, queue_id); !s.is_ok()) return s;
  Statement& st = c.prepare("DELETE FROM sqs_queues WHERE id = ?");
  st.bind(1, queue_id);
  return st.run();
}

Result<std::int64_t> insert_message_row(Connection& c, const MessageRow& m) {
  Statement& st = c.prepare(
      "INSERT INTO sqs_messages(queue_id, message_id, body, attributes, sent_ms, visible_at_ms, first_receive_ms, "
      "receive_count, group_id, dedup_id, sequence_number, sender_id, trace_header, dlq_source_arn) "
      "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  st.bind(1, m.queue_id)
      .bind(2, m.message_id)
      .bind(3, m.body)
      .bind(4, m.attributes)
      .bind(5, m.sent_ms)
      .bind(6, m.visible_at_ms)
      .bind(7, m.first_receive_ms)
      .bind(8, m.receive_count)
      .bind(9, m.group_id)
      .bind(10, m.dedup_id)
      .bind(11, m.sequence_number)
      .bind(12, m.sender_id)
      .bind(13, m.trace_header)
      .bind(14, m.dlq_source_arn);
  if (Status s = st.run(); !s.is_ok()) return s;
  return c.last_insert_rowid();
}

Status update_message_receive(Connection& c, std::int64_t rowid, std::int64_t visible_at_ms,
                              std::int64_t first_receive_ms, int receive_count) {
  Statement& st =
      c.prepare("UPDATE sqs_messages SET visible_at_ms = ?, first_receive_ms = ?, receive_count = ? WHERE rowid = ?");
  st.bind(1, visible_at_ms).bind(2, first_receive_ms).bind(3, receive_count).bind(4, rowid);
  return st.run();
}

Status update_message_visible_at(Connection& c, std::int64_t rowid, std::int64_t visible_at_ms) {
  Statement& st = c.prepare("UPDATE sqs_messages SET visible_at_ms = ? WHERE rowid = ?");
  st.bind(1, visible_at_ms).bind(2, rowid);
  return st.run();
}

Status delete_message_row(Connection& c, std::int64_t rowid) {
  Statement& st = c.prepare("DELETE FROM sqs_messages WHERE rowid = ?");
  st.bind(1, rowid);
  return st.run();
}

Status delete_message_range(Connection& c, std::int64_t first, std::int64_t last) {
  Statement& st = c.prepare("DELETE FROM sqs_messages WHERE rowid BETWEEN ? AND ?");
  st.bind(1, first).bind(2, last);
  return st.run();
}

Status delete_message_rows_of(Connection& c, std::int64_t queue_id) {
  Statement& st = c.prepare("DELETE FROM sqs_messages WHERE queue_id = ?");
  st.bind(1, queue_id);
  return st.run();
}

Result<std::int64_t> count_message_rows(Connection& c, std::int64_t queue_id) {
  Statement& st = c.prepare("SELECT COUNT(*) FROM sqs_messages WHERE queue_id = ?");
  st.bind(1, queue_id);
  if (!st.step()) {
    Status s = st.status().is_ok() ? internal_error("count returned no row") : st.status();
    st.reset();
    return s;
  }
  const std::int64_t n = st.int64(0);
  st.reset();
  return n;
}

}  // namespace esm::storage
