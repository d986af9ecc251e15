#include "storage/topic_store.h"

namespace esm::storage {
namespace {

// Steps st to the end, turning each row into a T with read(st).
template <typename T, typename F>
Result<std::vector<T>> collect(Statement& st, F read) {
  std::vector<T> out;
  while (st.step()) out.push_back(read(st));
  if (!st.status().is_ok()) return st.status();
  return out;
}

BatchRow batch_row(const Statement& st, bool with_bytes) {
  BatchRow b;
  b.base_offset = st.int64(0);
  b.last_offset = st.int64(1);
  b.max_ts = st.int64(2);
  b.append_ms = st.int64(3);
  if (with_bytes) b.bytes = st.blob(4);
  return b;
}

}  // namespace

Status insert_topic_rows(Connection& c, const TopicRow& t) {
  return all_or_none(c, "topic_store", [&] {
    Statement& st = c.prepare("INSERT INTO kafka_topics(id, name, partitions, configs, created_ms) VALUES(?,?,?,?,?)");
    st.bind(1, t.id).bind(2, t.name).bind(3, t.partitions).bind(4, t.configs).bind(5, t.created_ms);
    if (Status s = st.run(); !s.is_ok()) return s;
    for (int p = 0; p < t.partitions; ++p)
      if (Status s = save_partition_row(c, PartitionRow{t.id, p, 0, 0}); !s.is_ok()) return s;
    return save_counter(c, "kafka_topic_id", t.id);
  });
}

Status delete_topic_rows(Connection& c, std::int64_t topic_id, const std::string& name) {
  return all_or_none(c, "topic_store", [&] {
    for (const char* sql : {"DELETE FROM kafka_batches WHERE topic_id = ?", "DELETE FROM kafka_partitions WHERE topic_id = ?",
                            "DELETE FROM kafka_producers WHERE topic_id = ?", "DELETE FROM kafka_topics WHERE id = ?"}) {
      Statement& st = c.prepare(sql);
      st.bind(1, topic_id);
      if (Status s = st.run(); !s.is_ok()) return s;
    }
    Statement& st = c.prepare("DELETE FROM kafka_offsets WHERE topic = ?");
    st.bind(1, name);
    return st.run();
  });
}

Result<std::vector<TopicRow>> load_topic_rows(Connection& c) {
  Statement& st = c.prepare("SELECT id, name, partitions, configs, created_ms FROM kafka_topics ORDER BY id");
  return collect<TopicRow>(st, [](const Statement& r) {
    return TopicRow{r.int64(0), r.text(1), r.int32(2), r.text(3), r.int64(4)};
  });
}

Result<std::vector<PartitionRow>> load_partition_rows(Connection& c) {
  Statement& st = c.prepare(
      "SELECT topic_id, partition, log_start, next_offset FROM kafka_partitions ORDER BY topic_id, partition");
  return collect<PartitionRow>(st, [](const Statement& r) {
    return PartitionRow{r.int64(0), r.int32(1), r.int64(2), r.int64(3)};
  });
}

Status save_partition_row(Connection& c, const PartitionRow& p) {
  Statement& st =
      c.prepare("REPLACE INTO kafka_partitions(topic_id, partition, log_start, next_offset) VALUES(?,?,?,?)");
  st.bind(1, p.topic_id).bind(2, p.partition).bind(3, p.log_start).bind(4, p.next_offset);
  return st.run();
}

Status insert_batch_row(Connection& c, std::int64_t topic_id, int partition, const BatchRow& b) {
  Statement& st = c.prepare(
      "INSERT INTO kafka_batches(topic_id, partition, last_offset, base_offset, max_ts, append_ms, bytes) "
      "VALUES(?,?,?,?,?,?,?)");
  st.bind(1, topic_id).bind(2, partition).bind(3, b.last_offset).bind(4, b.base_offset).bind(5, b.max_ts);
  st.bind(6, b.append_ms).bind_blob(7, b.bytes);
  return st.run();
}

Status append_batch_bytes(Connection& c, std::int64_t topic_id, int partition, std::int64_t from,
                          std::size_t max_bytes, std::string& out) {
  Statement& st = c.prepare(
      "SELECT bytes FROM kafka_batches WHERE topic_id = ? AND partition = ? AND last_offset >= ? ORDER BY last_offset");
  st.bind(1, topic_id).bind(2, partition).bind(3, from);
  std::size_t bytes = 0;
  while (bytes < max_bytes && st.step()) {
    const std::string_view b = st.blob_view(0);
    if (bytes > 0 && bytes + b.size() > max_bytes) break;  // KIP-74: the first batch always
    out.append(b);
    bytes += b.size();
  }
  Status s = st.status();
  st.reset();
  return s;
}

Result<std::optional<BatchRow>> first_batch_at_time(Connection& c, std::int64_t topic_id, int partition,
                                                    std::int64_t ts_ms) {
  Statement& st = c.prepare(
      "SELECT base_offset, last_offset, max_ts, append_ms, bytes FROM kafka_batches "
      "WHERE topic_id = ? AND partition = ? AND max_ts >= ? ORDER BY last_offset LIMIT 1");
  st.bind(1, topic_id).bind(2, partition).bind(3, ts_ms);
  std::optional<BatchRow> out;
  if (st.step()) out = batch_row(st, true);
  if (!st.status().is_ok()) return st.status();
  st.reset();
  return out;
}

Result<std::vector<BatchRow>> oldest_batch_rows(Connection& c, std::int64_t topic_id, int partition, int limit) {
  Statement& st = c.prepare(
      "SELECT base_offset, last_offset, max_ts, append_ms FROM kafka_batches "
      "WHERE topic_id = ? AND partition = ? ORDER BY last_offset LIMIT ?");
  st.bind(1, topic_id).bind(2, partition).bind(3, limit);
  return collect<BatchRow>(st, [](const Statement& r) { return batch_row(r, false); });
}

Status delete_batch_rows_below(Connection& c, std::int64_t topic_id, int partition, std::int64_t below) {
  Statement& st = c.prepare("DELETE FROM kafka_batches WHERE topic_id = ? AND partition = ? AND last_offset < ?");
  st.bind(1, topic_id).bind(2, partition).bind(3, below);
  return st.run();
}

Status save_producer_row(Connection& c, const ProducerRow& p) {
  Statement& st = c.prepare(
      "REPLACE INTO kafka_producers(topic_id, partition, producer_id, epoch, batches) VALUES(?,?,?,?,?)");
  st.bind(1, p.topic_id).bind(2, p.partition).bind(3, p.producer_id).bind(4, p.epoch).bind(5, p.batches);
  return st.run();
}

Result<std::vector<ProducerRow>> load_producer_rows(Connection& c) {
  Statement& st = c.prepare("SELECT topic_id, partition, producer_id, epoch, batches FROM kafka_producers");
  return collect<ProducerRow>(st, [](const Statement& r) {
    return ProducerRow{r.int64(0), r.int32(1), r.int64(2), r.int32(3), r.text(4)};
  });
}

Status save_offset_row(Connection& c, const OffsetRow& o) {
  Statement& st = c.prepare(
      "REPLACE INTO kafka_offsets(group_id, topic, partition, committed_offset, metadata, commit_ms) "
      "VALUES(?,?,?,?,?,?)");
  st.bind(1, o.group_id).bind(2, o.topic).bind(3, o.partition).bind(4, o.offset).bind(5, o.metadata);
  st.bind(6, o.commit_ms);
  return st.run();
}

Result<std::vector<OffsetRow>> load_offset_rows(Connection& c, const std::string& group_id) {
  Statement& st = c.prepare(
      "SELECT group_id, topic, partition, committed_offset, metadata, commit_ms FROM kafka_offsets "
      "WHERE group_id = ? ORDER BY topic, partition");
  st.bind(1, group_id);
  return collect<OffsetRow>(st, [](const Statement& r) {
    return OffsetRow{r.text(0), r.text(1), r.int32(2), r.int64(3), r.opt_text(4), r.int64(5)};
  });
}

Result<std::vector<std::string>> load_offset_groups(Connection& c) {
  Statement& st = c.prepare("SELECT DISTINCT group_id FROM kafka_offsets ORDER BY group_id");
  return collect<std::string>(st, [](const Statement& r) { return r.text(0); });
}

Status delete_offset_rows(Connection& c, const std::string& group_id) {
  Statement& st = c.prepare("DELETE FROM kafka_offsets WHERE group_id = ?");
  st.bind(1, group_id);
  return st.run();
}

Result<std::optional<std::int64_t>> load_counter(Connection& c, std::string_view name) {
  Statement& st = c.prepare("SELECT value FROM counters WHERE name = ?");
  st.bind(1, name);
  std::optional<std::int64_t> out;
  if (st.step()) out = st.int64(0);
  if (!st.status().is_ok()) return st.status();
  st.reset();
  return out;
}

Status save_counter(Connection& c, std::string_view name, std::int64_t value) {
  Statement& st = c.prepare("REPLACE INTO counters(name, value) VALUES(?, ?)");
  st.bind(1, name).bind(2, value);
  return st.run();
}

}  // namespace esm::storage
