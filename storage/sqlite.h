#pragma once
// The only place that includes sqlite3.h: RAII connection, statement and transaction, and the
// schema migrations. A Connection is used by one thread at a time; callers serialise.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace esm::storage {

enum class Durability {
  kFull,    // fsync on every commit: nothing acknowledged is lost, even on power loss
  kNormal,  // WAL without fsync per commit: survives kill -9, not a power cut
};

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int i, std::int64_t v);
  Statement& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Statement& bind(int i, bool v) { return bind(i, static_cast<std::int64_t>(v ? 1 : 0)); }
  Statement& bind(int i, double v);
  Statement& bind(int i, std::string_view v);
  Statement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Statement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Statement& bind_null(int i);
  // Binds bytes as a BLOB (bind(string) binds TEXT).
  Statement& bind_blob(int i, std::string_view bytes);
  template <typename T>
  Statement& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }

  // Steps once: true when a row is ready, false when done. Errors go to status().
  bool step();
  // Runs to completion; the Status of the last step.
  Status run();
  // Resets the statement and clears its bindings; free when nothing was bound or stepped since
  // the last reset (Connection::prepare resets and most callers reset after running too).
  void reset();
  const Status& status() const { return status_; }

  bool is_null(int col) const;
  std::int64_t int64(int col) const;
  int int32(int col) const { return static_cast<int>(int64(col)); }
  double real(int col) const;
  std::string text(int col) const;
  std::string blob(int col) const;
  // The column's bytes without a copy, valid until the next step() or reset().
  std::string_view blob_view(int col) const;
  std::optional<std::int64_t> opt_int64(int col) const;
  std::optional<int> opt_int(int col) const;
  std::optional<std::string> opt_text(int col) const;
  std::optional<double> opt_real(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  Status status_;
  bool clean_ = true;  // not bound or stepped since it was prepared or last reset
};

class Connection {
 public:
  // path ":memory:" opens a private in-memory database.
  static Result<std::unique_ptr<Connection>> open(const std::string& path, Durability durability);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  Status exec(std::string_view sql);
  // A statement kept for the connection's lifetime, reset and with cleared bindings.
  Statement& prepare(std::string_view sql);
  std::int64_t changes() const;
  std::int64_t last_insert_rowid() const;

  // Fault injection for tests: while veto() returns true, SQLite turns every COMMIT into a
  // ROLLBACK and the COMMIT fails (sqlite3_commit_hook), exactly as a commit that could not
  // be written. Pass nullptr to remove it.
  void set_commit_veto(std::function<bool()> veto);

  // Versions a table for readers that cache what they read (another connection, another
  // thread): version grows by one after each transaction of this connection (Transaction,
  // committed or rolled back) that inserted, updated or deleted a row of table. A reader takes
  // the version before it reads and may keep using what it read while the version is unchanged:
  // the bump follows the COMMIT, so a version taken after it never meets the old rows. Seen
  // through SQLite's update hook, so only rowid tables, and not a DELETE without WHERE (the
  // truncate optimisation); call before the connection is shared. version must outlive every
  // transaction of the connection (its owner stops the DbWorker first).
  void watch_table(std::string table, std::atomic<std::uint64_t>& version);
  // Bumps the version of every watched table changed since the last call (Transaction does).
  void publish_changes();

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  struct Watch {
    std::string table;
    std::atomic<std::uint64_t>* version;
    bool changed = false;
  };
  std::vector<Watch> watches_;
  // Looked up by string_view: a statement prepared from a literal builds no std::string.
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::unique_ptr<Statement>, SqlHash, std::equal_to<>> cache_;
  std::function<bool()> commit_veto_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back unless committed.
class Transaction {
 public:
  explicit Transaction(Connection& c);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  const Status& begin_status() const { return begin_; }
  Status commit();

 private:
  Connection& c_;
  Status begin_;
  bool done_ = false;
};

// Runs body inside a savepoint of the current transaction: a statement that fails halfway
// leaves none of the body's rows behind, so the caller can keep its memory as it was. The
// store's name names the savepoint.
template <typename F>
Status all_or_none(Connection& c, std::string_view store, F body) {
  const std::string name(store);
  if (Status s = c.exec("SAVEPOINT " + name); !s.is_ok()) return s;
  Status s = body();
  if (s.is_ok()) return c.exec("RELEASE " + name);
  if (Status undo = c.exec("ROLLBACK TO " + name); !undo.is_ok())
    return internal_error(s.message() + "; and undoing it failed: " + undo.message());
  if (Status release = c.exec("RELEASE " + name); !release.is_ok()) return release;
  return s;
}

// Brings the schema to the newest version; idempotent.
Status migrate(Connection& c);

// Before the first open of the database file at `path`: a missing file is created under a
// temporary name and renamed once SQLite has written its header, so esmd itself never leaves a
// 0-byte database behind (a kill -9 between creating the file and writing it would). A 0-byte
// file with no write-ahead log is therefore not esmd's doing (truncated, or replaced): refused,
// so that a start never passes over lost queues and mappings in silence.
Status prepare_database_file(const std::string& path);
inline constexpr int kSchemaVersion = 7;

}  // namespace esm::storage
