#include "storage/stream_store.h"

#include "storage/json_map.h"

namespace esm::storage {

Status save_stream_row(Connection& c, const StreamRow& s) {
  Statement& st = c.prepare(
      "REPLACE INTO kinesis_streams(id, region, account, name, mode, retention_hours, created_ms, tags, extra) "
      "VALUES(?,?,?,?,?,?,?,?,'{}')");
  st.bind(1, s.id)
      .bind(2, s.region)
      .bind(3, s.account)
      .bind(4, s.name)
      .bind(5, s.mode)
      .bind(6, s.retention_hours)
      .bind(7, s.created_ms)
      .bind(8, encode_string_map(s.tags));
  return st.run();
}

Status insert_stream_rows(Connection& c, const StreamRow& s, const std::vector<ShardRow>& shards) {
  return all_or_none(c, "stream_store", [&] {
    if (Status st = save_stream_row(c, s); !st.is_ok()) return st;
    if (Status st = save_last_stream_id(c, s.id); !st.is_ok()) return st;
    for (const auto& shard : shards)
      if (Status st = insert_shard_row(c, shard); !st.is_ok()) return st;
    return Status::ok();
  });
}

Status insert_shard_row(Connection& c, const ShardRow& s) {
  Statement& st = c.prepare(
      "INSERT INTO kinesis_shards(stream_id, shard_index, hash_start, hash_end, next_index) VALUES(?,?,?,?,?)");
  st.bind(1, s.stream_id).bind(2, s.shard_index).bind(3, s.hash_start).bind(4, s.hash_end).bind(5, s.next_index);
  return st.run();
}

Status insert_record_row(Connection& c, const RecordRow& r) {
  Statement& st = c.prepare(
      "INSERT INTO kinesis_records(stream_id, shard_index, record_index, partition_key, data, arrival_ms) "
      "VALUES(?,?,?,?,?,?)");
  st.bind(1, r.stream_id)
      .bind(2, r.shard_index)
      .bind(3, r.record_index)
      .bind(4, r.partition_key)
      .bind_blob(5, r.data)
      .bind(6, r.arrival_ms);
  return st.run();
}

Status delete_stream_rows(Connection& c, std::int64_t stream_id) {
  return all_or_none(c, "stream_store", [&] {
    for (const char* sql : {"DELETE FROM kinesis_records WHERE stream_id = ?",
                            "DELETE FROM kinesis_shards WHERE stream_id = ?",
                            "DELETE FROM kinesis_streams WHERE id = ?"}) {
      Statement& st = c.prepare(sql);
      st.bind(1, stream_id);
      if (Status r = st.run(); !r.is_ok()) return r;
    }
    return Status::ok();
  });
}

Status trim_record_rows(Connection& c, std::int64_t stream_id, int shard_index, std::int64_t first_kept,
                        std::int64_t next_index) {
  // next_index first: rewriting it changes nothing by itself, so a failure of either statement
  // leaves the rows as they were.
  Statement& upd = c.prepare("UPDATE kinesis_shards SET next_index = ? WHERE stream_id = ? AND shard_index = ?");
  upd.bind(1, next_index).bind(2, stream_id).bind(3, shard_index);
  if (Status st = upd.run(); !st.is_ok()) return st;
  Statement& del =
      c.prepare("DELETE FROM kinesis_records WHERE stream_id = ? AND shard_index = ? AND record_index < ?");
  del.bind(1, stream_id).bind(2, shard_index).bind(3, first_kept);
  return del.run();
}

Result<std::vector<StreamRow>> load_stream_rows(Connection& c) {
  Statement& st =
      c.prepare("SELECT id, region, account, name, mode, retention_hours, created_ms, tags FROM kinesis_streams");
  std::vector<StreamRow> out;
  while (st.step()) {
    StreamRow s;
    s.id = st.int64(0);
    s.region = st.text(1);
    s.account = st.text(2);
    s.name = st.text(3);
    s.mode = st.text(4);
    s.retention_hours = st.int32(5);
    s.created_ms = st.int64(6);
    s.tags = decode_string_map(st.text(7));
    out.push_back(std::move(s));
  }
  Status s = st.status();
  st.reset();
  if (!s.is_ok()) return s;
  return out;
}

Result<std::vector<ShardRow>> load_shard_rows(Connection& c) {
  Statement& st = c.prepare(
      "SELECT stream_id, shard_index, hash_start, hash_end, next_index FROM kinesis_shards "
      "ORDER BY stream_id, shard_index");
  std::vector<ShardRow> out;
  while (st.step()) {
    ShardRow s;
    s.stream_id = st.int64(0);
    s.shard_index = st.int32(1);
    s.hash_start = st.text(2);
    s.hash_end = st.text(3);
    s.next_index = st.int64(4);
    out.push_back(std::move(s));
  }
  Status s = st.status();
  st.reset();
  if (!s.is_ok()) return s;
  return out;
}

Status for_each_record_row(Connection& c, const std::function<Status(RecordRow&&)>& fn) {
  Statement& st = c.prepare(
      "SELECT stream_id, shard_index, record_index, partition_key, data, arrival_ms FROM kinesis_records "
      "ORDER BY stream_id, shard_index, record_index");
  Status out;
  while (st.step()) {
    RecordRow r;
    r.stream_id = st.int64(0);
    r.shard_index = st.int32(1);
    r.record_index = st.int64(2);
    r.partition_key = st.text(3);
    r.data = st.blob(4);
    r.arrival_ms = st.int64(5);
    out = fn(std::move(r));
    if (!out.is_ok()) break;
  }
  if (out.is_ok()) out = st.status();
  st.reset();
  return out;
}

Result<std::optional<std::int64_t>> load_last_stream_id(Connection& c) {
  Statement& st = c.prepare("SELECT value FROM counters WHERE name = 'kinesis_stream_id'");
  std::optional<std::int64_t> out;
  if (st.step()) out = st.int64(0);
  Status s = st.status();
  st.reset();
  if (!s.is_ok()) return s;
  return out;
}

Status save_last_stream_id(Connection& c, std::int64_t id) {
  Statement& st = c.prepare("REPLACE INTO counters(name, value) VALUES('kinesis_stream_id', ?)");
  st.bind(1, id);
  return st.run();
}

}  // namespace esm::storage
