#include "storage/mapping_store.h"

#include "storage/checkpoint_store.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <string_view>

namespace esm::storage {
namespace {

constexpr const char* kColumns =
    "uuid, seq, region, account, function_arn, kind, event_source_arn, fifo, state, settle_to, settle_at_ms, "
    "last_modified_ms, state_reason, last_result, batch_size, window_s, parallelization, max_retry, max_age, "
    "bisect, tumbling, starting_position, starting_ts, filters, report_failures, max_concurrency, dest_present, "
    "dest_on_success, dest_on_failure, topics, bootstrap, extras";

// Most mappings have no filters, topics or bootstrap servers: "[]" without a rapidjson writer
// or document (their allocations were a good part of reading or writing a mapping row).
std::string encode_list(const std::vector<std::string>& v) {
  if (v.empty()) return "[]";
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (const auto& s : v) w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  w.EndArray();
  return {buf.GetString(), buf.GetSize()};
}

std::vector<std::string> decode_list(const std::string& s) {
  std::vector<std::string> out;
  if (s == "[]") return out;
  rapidjson::Document d;
  d.Parse(s.data(), s.size());
  if (d.HasParseError() || !d.IsArray()) return out;
  for (const auto& v : d.GetArray())
    if (v.IsString()) out.emplace_back(v.GetString(), v.GetStringLength());
  return out;
}

void bind_all(Statement& st, const Mapping& m) {
  st.bind(1, m.uuid)
      .bind(2, m.seq)
      .bind(3, m.region)
      .bind(4, m.account)
      .bind(5, m.function_arn)
      .bind(6, to_string(m.kind))
      .bind(7, m.event_source_arn)
      .bind(8, m.fifo)
      .bind(9, to_string(m.state));
  if (m.settle_to) st.bind(10, to_string(*m.settle_to));
  st.bind(11, m.settle_at_ms)
      .bind(12, m.last_modified_ms)
      .bind(13, m.state_reason)
      .bind(14, m.last_processing_result)
      .bind(15, m.batch_size)
      .bind(16, m.batching_window_s)
      .bind(17, m.parallelization_factor)
      .bind(18, m.maximum_retry_attempts)
      .bind(19, m.maximum_record_age_s)
      .bind(20, m.bisect_on_error)
      .bind(21, m.tumbling_window_s)
      .bind(22, m.starting_position)
      .bind(23, m.starting_position_ts)
      .bind(24, encode_list(m.filter_patterns))
      .bind(25, m.report_batch_item_failures)
      .bind(26, m.maximum_concurrency)
      .bind(27, m.destinations.has_value());
  if (m.destinations) {
    st.bind(28, m.destinations->on_success).bind(29, m.destinations->on_failure);
  }
  st.bind(30, encode_list(m.topics)).bind(31, encode_list(m.bootstrap_servers)).bind(32, m.extras_json);
}

Mapping read_row(const Statement& st) {
  Mapping m;
  m.uuid = st.text(0);
  m.seq = st.int64(1);
  m.region = st.text(2);
  m.account = st.text(3);
  m.function_arn = st.text(4);
  m.kind = source_kind_from_string(st.text(5)).value_or(SourceKind::kSqs);
  m.event_source_arn = st.text(6);
  m.fifo = st.int64(7) != 0;
  m.state = mapping_state_from_string(st.text(8)).value_or(MappingState::kEnabled);
  if (auto s = st.opt_text(9)) m.settle_to = mapping_state_from_string(*s);
  m.settle_at_ms = st.int64(10);
  m.last_modified_ms = st.int64(11);
  m.state_reason = st.text(12);
  m.last_processing_result = st.opt_text(13);
  m.batch_size = st.int32(14);
  m.batching_window_s = st.opt_int(15);
  m.parallelization_factor = st.opt_int(16);
  m.maximum_retry_attempts = st.opt_int(17);
  m.maximum_record_age_s = st.opt_int(18);
  if (auto b = st.opt_int(19)) m.bisect_on_error = *b != 0;
  m.tumbling_window_s = st.opt_int(20);
  m.starting_position = st.opt_text(21);
  m.starting_position_ts = st.opt_real(22);
  m.filter_patterns = decode_list(st.text(23));
  if (auto b = st.opt_int(24)) m.report_batch_item_failures = *b != 0;
  m.maximum_concurrency = st.opt_int(25);
  if (st.int64(26) != 0) m.destinations = Destinations{st.opt_text(27), st.opt_text(28)};
  m.topics = decode_list(st.text(29));
  m.bootstrap_servers = decode_list(st.text(30));
  m.extras_json = st.text(31);
  return m;
}

// Every row of the statement; a failed step is an error, never a shorter list.
Result<std::vector<Mapping>> read_all(Statement& st) {
  std::vector<Mapping> out;
  while (st.step()) out.push_back(read_row(st));
  Status s = st.status();
  st.reset();
  if (!s.is_ok()) return s;
  return out;
}

// The columns fixed when a mapping is created. An update leaves them out of its SET list, so
// that SQLite does not rewrite the indexes on them (mappings_by_region, mappings_by_source):
// an UpdateEventSourceMapping wrote 8 WAL frames (pwrite64) and now writes 2.
bool is_identity_column(std::string_view col) {
  return col == "seq" || col == "region" || col == "account" || col == "kind" || col == "event_source_arn" ||
         col == "fifo";
}

// "UPDATE mappings SET function_arn = ?5, state = ?9, ... WHERE uuid = ?1", numbered as bind_all
// binds.
std::string update_sql() {
  std::string sets;
  std::string_view cols = kColumns;
  for (int index = 1; !cols.empty(); ++index) {
    const auto comma = cols.find(',');
    std::string_view col = cols.substr(0, comma);
    col.remove_prefix(std::min(col.find_first_not_of(' '), col.size()));
    cols = comma == std::string_view::npos ? std::string_view() : cols.substr(comma + 1);
    if (index == 1 || is_identity_column(col)) continue;  // uuid: the key
    sets.append(sets.empty() ? "" : ", ").append(col).append(" = ?").append(std::to_string(index));
  }
  return "UPDATE mappings SET " + sets + " WHERE uuid = ?1";
}

std::string select_sql(const char* where) { return std::string("SELECT ") + kColumns + " FROM mappings " + where; }

}  // namespace

Status insert_mapping(Connection& c, Mapping& m) {
  Statement& q = c.prepare("UPDATE counters SET value = value + 1 WHERE name = 'mapping_seq' RETURNING value");
  if (!q.step()) {
    Status s = q.status().is_ok() ? internal_error("the mapping sequence counter is missing") : q.status();
    q.reset();
    return s;
  }
  m.seq = q.int64(0);
  q.reset();
  static const std::string kSql = std::string("INSERT INTO mappings(") + kColumns +
                                  ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  Statement& st = c.prepare(kSql);
  bind_all(st, m);
  return st.run();
}

Status update_mapping(Connection& c, const Mapping& m) {
  // An UPDATE, not a REPLACE: a mapping deleted meanwhile (a poller finishing a batch after
  // DeleteEventSourceMapping settled) must stay deleted, not come back.
  static const std::string kSql = update_sql();
  Statement& st = c.prepare(kSql);
  bind_all(st, m);
  if (Status s = st.run(); !s.is_ok()) return s;
  if (c.changes() == 0) return not_found("no mapping " + m.uuid);
  return Status::ok();
}

Result<Mapping> get_mapping(Connection& c, const std::string& uuid) {
  static const std::string kSql = select_sql("WHERE uuid = ?");
  Statement& st = c.prepare(kSql);
  st.bind(1, uuid);
  if (!st.step()) {
    Status s = st.status().is_ok() ? not_found("no mapping " + uuid) : st.status();
    st.reset();
    return s;
  }
  Mapping m = read_row(st);
  st.reset();
  return m;
}

Result<std::vector<Mapping>> list_mappings(Connection& c, const MappingQuery& q) {
  Statement& st = c.prepare(select_sql(
      "WHERE region = ?1 AND seq > ?2 AND (?3 IS NULL OR function_arn = ?3) AND (?4 IS NULL OR event_source_arn = ?4) "
      "ORDER BY seq LIMIT ?5"));
  st.bind(1, q.region).bind(2, q.after_seq).bind(3, q.function_arn).bind(4, q.event_source_arn).bind(5, q.limit);
  return read_all(st);
}

Result<std::vector<Mapping>> mappings_for_source(Connection& c, const std::string& event_source_arn) {
  Statement& st = c.prepare(select_sql("WHERE event_source_arn = ? ORDER BY seq"));
  st.bind(1, event_source_arn);
  return read_all(st);
}

Result<std::vector<Mapping>> all_mappings(Connection& c) {
  Statement& st = c.prepare(select_sql("ORDER BY seq"));
  return read_all(st);
}

Result<std::int64_t> count_mappings(Connection& c) {
  Statement& st = c.prepare("SELECT COUNT(*) FROM mappings");
  const bool row = st.step();
  const std::int64_t n = row ? st.int64(0) : 0;
  Status s = row ? Status::ok() : st.status().is_ok() ? internal_error("COUNT returned no row") : st.status();
  st.reset();
  if (!s.is_ok()) return s;
  return n;
}

Status delete_mapping(Connection& c, const std::string& uuid) {
  Result<Mapping> m = get_mapping(c, uuid);
  if (!m) return m.status();
  Statement& tags = c.prepare("DELETE FROM tags WHERE arn = ?");
  tags.bind(1, mapping_arn_of(*m));
  if (Status s = tags.run(); !s.is_ok()) return s;
  if (Status s = delete_checkpoints(c, uuid); !s.is_ok()) return s;
  Statement& st = c.prepare("DELETE FROM mappings WHERE uuid = ?");
  st.bind(1, uuid);
  return st.run();
}

Status set_last_processing_result(Connection& c, const std::string& uuid, const std::string& result) {
  Statement& st = c.prepare("UPDATE mappings SET last_result = ? WHERE uuid = ?");
  st.bind(1, result).bind(2, uuid);
  return st.run();
}

Result<std::vector<Mapping>> due_transitions(Connection& c, std::int64_t now_ms) {
  Statement& st = c.prepare(select_sql("WHERE settle_at_ms > 0 AND settle_at_ms <= ? ORDER BY settle_at_ms"));
  st.bind(1, now_ms);
  return read_all(st);
}

Result<std::optional<std::int64_t>> next_transition_at(Connection& c) {
  Statement& st = c.prepare("SELECT MIN(settle_at_ms) FROM mappings WHERE settle_at_ms > 0");
  std::optional<std::int64_t> out;
  if (st.step()) out = st.opt_int64(0);
  Status s = st.status();
  st.reset();
  if (!s.is_ok()) return s;
  return out;
}

Result<Tags> get_tags(Connection& c, const std::string& arn) {
  Statement& st = c.prepare("SELECT key, value FROM tags WHERE arn = ? ORDER BY key");
  st.bind(1, arn);
  Tags out;
  while (st.step()) out.emplace(st.text(0), st.text(1));
  Status s = st.status();
  st.reset();
  if (!s.is_ok()) return s;
  return out;
}

Status put_tags(Connection& c, const std::string& arn, const Tags& tags) {
  Statement& st = c.prepare("REPLACE INTO tags(arn, key, value) VALUES(?, ?, ?)");
  for (const auto& [k, v] : tags) {
    st.bind(1, arn).bind(2, k).bind(3, v);
    if (Status s = st.run(); !s.is_ok()) return s;
  }
  return Status::ok();
}

Status remove_tags(Connection& c, const std::string& arn, const std::vector<std::string>& keys) {
  Statement& st = c.prepare("DELETE FROM tags WHERE arn = ? AND key = ?");
  for (const auto& k : keys) {
    st.bind(1, arn).bind(2, k);
    if (Status s = st.run(); !s.is_ok()) return s;
  }
  return Status::ok();
}

}  // namespace esm::storage
