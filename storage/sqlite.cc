#include "storage/sqlite.h"

#include <spdlog/spdlog.h>

#include <sqlite3.h>

#include <array>
#include <filesystem>
#include <system_error>
#include <stdexcept>

namespace esm::storage {
namespace {

Status sqlite_error(sqlite3* db, std::string_view what) {
  std::string m(what);
  m.append(": ").append(sqlite3_errmsg(db));
  return internal_error(std::move(m));
}

// Each entry moves the schema from version i to i+1. Never edit a released entry; append.
constexpr std::array<std::string_view, kSchemaVersion> kMigrations{{
    R"sql(
CREATE TABLE mappings(
  uuid TEXT PRIMARY KEY,
  seq INTEGER NOT NULL UNIQUE,
  region TEXT NOT NULL,
  account TEXT NOT NULL,
  function_arn TEXT NOT NULL,
  kind TEXT NOT NULL,
  event_source_arn TEXT NOT NULL,
  fifo INTEGER NOT NULL,
  state TEXT NOT NULL,
  settle_to TEXT,
  settle_at_ms INTEGER NOT NULL,
  last_modified_ms INTEGER NOT NULL,
  state_reason TEXT NOT NULL,
  last_result TEXT,
  batch_size INTEGER NOT NULL,
  window_s INTEGER,
  parallelization INTEGER,
  max_retry INTEGER,
  max_age INTEGER,
  bisect INTEGER,
  tumbling INTEGER,
  starting_position TEXT,
  starting_ts REAL,
  filters TEXT NOT NULL,
  report_failures INTEGER,
  max_concurrency INTEGER,
  dest_present INTEGER NOT NULL,
  dest_on_success TEXT,
  dest_on_failure TEXT,
  topics TEXT NOT NULL,
  bootstrap TEXT NOT NULL,
  extras TEXT NOT NULL
);
CREATE INDEX mappings_by_region ON mappings(region, seq);
CREATE INDEX mappings_by_source ON mappings(event_source_arn);
CREATE INDEX mappings_settling ON mappings(settle_at_ms) WHERE settle_at_ms > 0;
CREATE TABLE tags(
  arn TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY(arn, key)
) WITHOUT ROWID;
CREATE TABLE functions(
  name TEXT PRIMARY KEY,
  target TEXT NOT NULL,
  timeout_ms INTEGER NOT NULL,
  concurrency INTEGER NOT NULL
);
)sql",
    R"sql(
CREATE TABLE sqs_queues(
  id INTEGER PRIMARY KEY,
  region TEXT NOT NULL,
  account TEXT NOT NULL,
  name TEXT NOT NULL,
  attributes TEXT NOT NULL,
  tags TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  modified_ms INTEGER NOT NULL,
  next_sequence INTEGER NOT NULL,
  UNIQUE(region, name)
);
CREATE TABLE sqs_messages(
  rowid INTEGER PRIMARY KEY,
  queue_id INTEGER NOT NULL,
  message_id TEXT NOT NULL,
  body TEXT NOT NULL,
  attributes TEXT NOT NULL,
  sent_ms INTEGER NOT NULL,
  visible_at_ms INTEGER NOT NULL,
  first_receive_ms INTEGER NOT NULL,
  receive_count INTEGER NOT NULL,
  group_id TEXT NOT NULL,
  dedup_id TEXT NOT NULL,
  sequence_number TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  trace_header TEXT NOT NULL,
  dlq_source_arn TEXT NOT NULL
);
CREATE INDEX sqs_messages_by_queue ON sqs_messages(queue_id, rowid);
)sql",
    // Creation sequence numbers only grow, so a List marker never skips a newer mapping that
    // took a deleted mapping's number.
    R"sql(
CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO counters(name, value) SELECT 'mapping_seq', COALESCE(MAX(seq), 0) FROM mappings;
)sql",
    // Kinesis: streams, their shards and records (storage/stream_store.h), and the stream
    // pollers' checkpoints (storage/checkpoint_store.h). A record's position is its index in
    // its shard, which only grows; its sequence number is derived from (stream, shard, index).
    R"sql(
CREATE TABLE kinesis_streams(
  id INTEGER PRIMARY KEY,
  region TEXT NOT NULL,
  account TEXT NOT NULL,
  name TEXT NOT NULL,
  mode TEXT NOT NULL,
  retention_hours INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  tags TEXT NOT NULL,
  extra TEXT NOT NULL,
  UNIQUE(region, name)
);
CREATE TABLE kinesis_shards(
  stream_id INTEGER NOT NULL,
  shard_index INTEGER NOT NULL,
  hash_start TEXT NOT NULL,
  hash_end TEXT NOT NULL,
  next_index INTEGER NOT NULL,
  PRIMARY KEY(stream_id, shard_index)
) WITHOUT ROWID;
CREATE TABLE kinesis_records(
  stream_id INTEGER NOT NULL,
  shard_index INTEGER NOT NULL,
  record_index INTEGER NOT NULL,
  partition_key TEXT NOT NULL,
  data BLOB NOT NULL,
  arrival_ms INTEGER NOT NULL,
  PRIMARY KEY(stream_id, shard_index, record_index)
) WITHOUT ROWID;
CREATE TABLE stream_checkpoints(
  mapping_uuid TEXT NOT NULL,
  shard_id TEXT NOT NULL,
  stream_arn TEXT NOT NULL,
  next_index INTEGER NOT NULL,
  window_json TEXT,
  PRIMARY KEY(mapping_uuid, shard_id)
) WITHOUT ROWID;
)sql",
    // A checkpoint names the stream it was written for by Stream::id, which is never reused:
    // a stream deleted and recreated under the same name (and ARN) starts afresh instead of
    // resuming at the old stream's index. Rows written before this version have 0.
    R"sql(
ALTER TABLE stream_checkpoints ADD COLUMN stream_id INTEGER NOT NULL DEFAULT 0;
)sql",
    // Checkpoints of any partitioned source (storage/checkpoint_store.h): a Kinesis shard's
    // record index, and later a Kafka topic-partition's offset, keyed by (mapping, source,
    // partition). The Kinesis rows move over as they are: a shard id is the partition, the
    // record index the integer position, the stream id the epoch (0 where it was not recorded).
    R"sql(
CREATE TABLE checkpoints(
  mapping_uuid TEXT NOT NULL,
  source TEXT NOT NULL,
  partition_id TEXT NOT NULL,
  position INTEGER,
  position_text TEXT,
  state TEXT,
  epoch INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(mapping_uuid, source, partition_id)
) WITHOUT ROWID;
INSERT INTO checkpoints(mapping_uuid, source, partition_id, position, state, epoch)
  SELECT mapping_uuid, stream_arn, shard_id, next_index, window_json, stream_id FROM stream_checkpoints;
DROP TABLE stream_checkpoints;
)sql",
    // The Kafka broker (storage/topic_store.h): topics and their partitions' offsets, record
    // batches stored as the producer sent them (one row per batch, keyed by its last offset so
    // that the batch holding an offset is the first row at or after it), idempotent producers'
    // state per partition, and consumer groups' committed offsets.
    R"sql(
CREATE TABLE kafka_topics(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  partitions INTEGER NOT NULL,
  configs TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE TABLE kafka_partitions(
  topic_id INTEGER NOT NULL,
  partition INTEGER NOT NULL,
  log_start INTEGER NOT NULL,
  next_offset INTEGER NOT NULL,
  PRIMARY KEY(topic_id, partition)
) WITHOUT ROWID;
CREATE TABLE kafka_batches(
  topic_id INTEGER NOT NULL,
  partition INTEGER NOT NULL,
  last_offset INTEGER NOT NULL,
  base_offset INTEGER NOT NULL,
  max_ts INTEGER NOT NULL,
  append_ms INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  PRIMARY KEY(topic_id, partition, last_offset)
) WITHOUT ROWID;
CREATE TABLE kafka_producers(
  topic_id INTEGER NOT NULL,
  partition INTEGER NOT NULL,
  producer_id INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  batches TEXT NOT NULL,
  PRIMARY KEY(topic_id, partition, producer_id)
) WITHOUT ROWID;
CREATE TABLE kafka_offsets(
  group_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  committed_offset INTEGER NOT NULL,
  metadata TEXT,
  commit_ms INTEGER NOT NULL,
  PRIMARY KEY(group_id, topic, partition)
) WITHOUT ROWID;
)sql",
}};

}  // namespace

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int i, std::int64_t v) {
  clean_ = false;
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Statement& Statement::bind(int i, double v) {
  clean_ = false;
  sqlite3_bind_double(stmt_, i, v);
  return *this;
}
Statement& Statement::bind(int i, std::string_view v) {
  clean_ = false;
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_blob(int i, std::string_view bytes) {
  clean_ = false;
  sqlite3_bind_blob64(stmt_, i, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_null(int i) {
  clean_ = false;
  sqlite3_bind_null(stmt_, i);
  return *this;
}

bool Statement::step() {
  clean_ = false;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) status_ = sqlite_error(db_, "step");
  return false;
}

Status Statement::run() {
  while (step()) {
  }
  Status s = status_;
  reset();
  return s;
}

void Statement::reset() {
  if (clean_) return;
  clean_ = true;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  status_ = Status::ok();
}

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
std::int64_t Statement::int64(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::real(int col) const { return sqlite3_column_double(stmt_, col); }
std::string Statement::text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
}
std::string_view Statement::blob_view(int col) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : std::string_view();
}
std::string Statement::blob(int col) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
}
std::optional<std::int64_t> Statement::opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}
std::optional<int> Statement::opt_int(int col) const {
  if (is_null(col)) return std::nullopt;
  return int32(col);
}
std::optional<std::string> Statement::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}
std::optional<double> Statement::opt_real(int col) const {
  if (is_null(col)) return std::nullopt;
  return real(col);
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, Durability durability) {
  // SQLite's allocation statistics take a global mutex around every malloc and free it makes
  // (a statement allocates each text column it reads): esmd reads none of them. Must come
  // before SQLite initialises, i.e. before the first open; a later call changes nothing.
  static const int memstatus_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)memstatus_off;
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    Status s = internal_error("cannot open database " + path + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_close(db);
    return s;
  }
  std::unique_ptr<Connection> c(new Connection(db));
  sqlite3_busy_timeout(db, 5000);
  if (path != ":memory:") {
    // On a new file the switch to WAL writes the database header; without syncs it costs no
    // fsync (a header lost to a power cut is written again by the next start).
    if (Status s = c->exec("PRAGMA synchronous=OFF"); !s.is_ok()) return s;
    if (Status s = c->exec("PRAGMA journal_mode=WAL"); !s.is_ok()) return s;
  }
  const char* sync = durability == Durability::kFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
  if (Status s = c->exec(sync); !s.is_ok()) return s;
  if (Status s = c->exec("PRAGMA foreign_keys=ON"); !s.is_ok()) return s;
  return c;
}

Connection::~Connection() {
  cache_.clear();
  sqlite3_close(db_);
}

Status Connection::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string s(sql);
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = "sqlite: ";
    m += err ? err : "unknown error";
    sqlite3_free(err);
    return internal_error(std::move(m));
  }
  return Status::ok();
}

Statement& Connection::prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    it->second->reset();
    return *it->second;
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK) {
    // A prepare failure is a bug in our SQL; it cannot come from client input.
    throw std::runtime_error(std::string("sqlite prepare failed: ") + sqlite3_errmsg(db_) + " in " + std::string(sql));
  }
  auto [pos, _] = cache_.emplace(sql, std::make_unique<Statement>(db_, stmt));
  return *pos->second;
}

void Connection::set_commit_veto(std::function<bool()> veto) {
  commit_veto_ = std::move(veto);
  if (!commit_veto_) {
    sqlite3_commit_hook(db_, nullptr, nullptr);
    return;
  }
  sqlite3_commit_hook(
      db_, [](void* self) -> int { return static_cast<Connection*>(self)->commit_veto_() ? 1 : 0; }, this);
}

void Connection::watch_table(std::string table, std::atomic<std::uint64_t>& version) {
  watches_.push_back(Watch{std::move(table), &version});
  sqlite3_update_hook(
      db_,
      [](void* self, int, const char*, const char* changed_table, sqlite3_int64) {
        for (Watch& w : static_cast<Connection*>(self)->watches_)
          if (w.table == changed_table) w.changed = true;
      },
      this);
}

void Connection::publish_changes() {
  for (Watch& w : watches_) {
    if (!w.changed) continue;
    w.changed = false;
    w.version->fetch_add(1, std::memory_order_acq_rel);
  }
}

std::int64_t Connection::changes() const { return sqlite3_changes(db_); }
std::int64_t Connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

// BEGIN and COMMIT run once per database group: prepared once, not parsed each time.
Transaction::Transaction(Connection& c) : c_(c), begin_(c.prepare("BEGIN IMMEDIATE").run()) {
  done_ = !begin_.is_ok();
}

Transaction::~Transaction() {
  if (done_) return;
  // A failed ROLLBACK leaves the transaction open; the next BEGIN then fails and the DbWorker
  // refuses work until it recovers, so saying so is all that is left to do here.
  if (Status s = c_.prepare("ROLLBACK").run(); !s.is_ok()) spdlog::error("database: rollback failed: {}", s.message());
  c_.publish_changes();
}

Status Transaction::commit() {
  done_ = true;
  Status s = c_.prepare("COMMIT").run();
  if (!s.is_ok()) {
    if (Status r = c_.prepare("ROLLBACK").run(); !r.is_ok())
      spdlog::error("database: rollback after a failed commit failed: {}", r.message());
  }
  c_.publish_changes();
  return s;
}

Status prepare_database_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (fs::exists(status)) {
    if (!fs::is_regular_file(status)) return internal_error("the database " + path + " is not a regular file");
    const auto size = fs::file_size(path, ec);
    if (ec) return internal_error("cannot read the database " + path + ": " + ec.message());
    const auto wal = fs::file_size(path + "-wal", ec);
    if (size == 0 && (ec || wal == 0))
      return internal_error("the database " + path +
                            " is an empty (0-byte) file. esmd never leaves one behind, so it was truncated or "
                            "replaced, and the queues, streams, topics and mappings it held are gone. Restore it "
                            "from a backup, or move it away to start with an empty database.");
    return Status::ok();
  }
  const std::string fresh = path + ".new";
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(fresh + suffix, ec);
  {
    auto c = Connection::open(fresh, Durability::kNormal);  // its WAL switch writes the header
    if (!c) return c.status();
  }
  fs::rename(fresh, path, ec);
  if (ec) return internal_error("cannot create the database " + path + ": " + ec.message());
  return Status::ok();
}

Status migrate(Connection& c) {
  Statement& q = c.prepare("PRAGMA user_version");
  int version = q.step() ? q.int32(0) : 0;
  q.reset();
  if (version > kSchemaVersion)
    return internal_error("database schema version " + std::to_string(version) + " is newer than this esmd (" +
                          std::to_string(kSchemaVersion) + ")");
  if (version == kSchemaVersion) return Status::ok();
  // A new database holds nothing yet: its schema is committed without an fsync (a power cut
  // can only lose the whole transaction, and the next start creates it again), which keeps a
  // first start in milliseconds. The next durable commit syncs the log with it.
  std::optional<std::int64_t> restore_sync;
  if (version == 0) {
    Statement& sync = c.prepare("PRAGMA synchronous");
    if (sync.step()) restore_sync = sync.int64(0);
    sync.reset();
    if (restore_sync)
      if (Status s = c.exec("PRAGMA synchronous=OFF"); !s.is_ok()) return s;
  }
  Status migrated = [&] {
    // Every step in one transaction: one commit however many steps there are, and a database
    // is never left between two versions.
    Transaction tx(c);
    if (!tx.begin_status().is_ok()) return tx.begin_status();
    while (version < kSchemaVersion) {
      if (Status s = c.exec(kMigrations[static_cast<std::size_t>(version)]); !s.is_ok()) return s;
      ++version;
    }
    if (Status s = c.exec("PRAGMA user_version=" + std::to_string(version)); !s.is_ok()) return s;
    return tx.commit();
  }();
  if (restore_sync)
    if (Status s = c.exec("PRAGMA synchronous=" + std::to_string(*restore_sync)); !s.is_ok()) return s;
  return migrated;
}

}  // namespace esm::storage
