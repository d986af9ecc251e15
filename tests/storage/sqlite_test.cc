#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "storage/sqlite.h"

using namespace esm;
using namespace esm::storage;

namespace {

std::unique_ptr<Connection> open_memory() {
  auto c = Connection::open(":memory:", Durability::kNormal);
  REQUIRE(c);
  return std::move(c).value();
}

int user_version(Connection& c) {
  Statement& st = c.prepare("PRAGMA user_version");
  REQUIRE(st.step());
  const int v = st.int32(0);
  st.reset();
  return v;
}

std::int64_t count(Connection& c, const std::string& table) {
  Statement& st = c.prepare("SELECT COUNT(*) FROM " + table);
  REQUIRE(st.step());
  const auto n = st.int64(0);
  st.reset();
  return n;
}

}  // namespace

TEST_CASE("a watched table's version grows after each transaction that changed it, not before") {
  auto c = open_memory();
  REQUIRE(c->exec("CREATE TABLE a(x); CREATE TABLE b(x)").is_ok());
  std::atomic<std::uint64_t> v{0};
  c->watch_table("a", v);
  // Runs sql in a transaction of its own, committed or (commit false) rolled back.
  auto transaction = [&](const char* sql, bool commit) {
    Transaction tx(*c);
    REQUIRE(c->exec(sql).is_ok());
    if (commit) REQUIRE(tx.commit().is_ok());
  };
  {
    Transaction tx(*c);
    REQUIRE(c->exec("INSERT INTO a VALUES(1)").is_ok());
    CHECK(v == 0);  // a reader may still read the old rows
    REQUIRE(tx.commit().is_ok());
  }
  CHECK(v == 1);
  transaction("INSERT INTO b VALUES(1)", true);
  CHECK(v == 1);
  transaction("UPDATE a SET x = 2", false);  // rolled back: a reader inside it may have seen its rows
  CHECK(v == 2);
  transaction("DELETE FROM a WHERE x = 1", true);
  CHECK(v == 3);
  transaction("SELECT 1", true);
  CHECK(v == 3);
}

TEST_CASE("a database that cannot be opened is an internal error naming the path") {
  auto c = Connection::open("/nonexistent-esmd-dir/sub/esmd.sqlite3", Durability::kFull);
  REQUIRE_FALSE(c);
  CHECK(c.status().code() == Code::kInternal);
  CHECK_THAT(c.status().message(), Catch::StartsWith("cannot open database /nonexistent-esmd-dir/sub/esmd.sqlite3: "));
}

TEST_CASE("migrate brings a new database to the current schema version") {
  auto c = open_memory();
  CHECK(user_version(*c) == 0);
  REQUIRE(migrate(*c).is_ok());
  CHECK(user_version(*c) == kSchemaVersion);
  CHECK(count(*c, "mappings") == 0);
  CHECK(count(*c, "tags") == 0);
  CHECK(count(*c, "functions") == 0);
}

TEST_CASE("migrating twice changes nothing and keeps the data") {
  auto c = open_memory();
  REQUIRE(migrate(*c).is_ok());
  REQUIRE(c->exec("INSERT INTO functions(name, target, timeout_ms, concurrency) VALUES('f', 'builtin:ok', 3000, 1)")
              .is_ok());
  REQUIRE(migrate(*c).is_ok());
  CHECK(user_version(*c) == kSchemaVersion);
  CHECK(count(*c, "functions") == 1);
}

TEST_CASE("a database from a newer esmd is refused") {
  auto c = open_memory();
  REQUIRE(c->exec("PRAGMA user_version=" + std::to_string(kSchemaVersion + 1)).is_ok());
  Status s = migrate(*c);
  CHECK(s.code() == Code::kInternal);
  CHECK(s.message() == "database schema version " + std::to_string(kSchemaVersion + 1) +
                           " is newer than this esmd (" + std::to_string(kSchemaVersion) + ")");
}

TEST_CASE("a transaction that is not committed rolls back") {
  auto c = open_memory();
  REQUIRE(migrate(*c).is_ok());
  {
    Transaction tx(*c);
    REQUIRE(tx.begin_status().is_ok());
    REQUIRE(c->exec("INSERT INTO functions VALUES('f', 'builtin:ok', 3000, 1)").is_ok());
    CHECK(count(*c, "functions") == 1);
  }
  CHECK(count(*c, "functions") == 0);
}

TEST_CASE("a committed transaction keeps its changes") {
  auto c = open_memory();
  REQUIRE(migrate(*c).is_ok());
  {
    Transaction tx(*c);
    REQUIRE(c->exec("INSERT INTO functions VALUES('f', 'builtin:ok', 3000, 1)").is_ok());
    REQUIRE(tx.commit().is_ok());
  }
  CHECK(count(*c, "functions") == 1);
}

TEST_CASE("a transaction cannot begin inside another one") {
  auto c = open_memory();
  Transaction outer(*c);
  REQUIRE(outer.begin_status().is_ok());
  Transaction inner(*c);
  CHECK(inner.begin_status().code() == Code::kInternal);
}

TEST_CASE("a failing statement reports an internal error and the statement stays usable") {
  auto c = open_memory();
  REQUIRE(migrate(*c).is_ok());
  Statement& st = c->prepare("INSERT INTO functions VALUES(?, 'builtin:ok', 3000, 1)");
  st.bind(1, "f");
  REQUIRE(st.run().is_ok());
  st.bind(1, "f");
  Status dup = st.run();
  CHECK(dup.code() == Code::kInternal);
  CHECK_THAT(dup.message(), Catch::StartsWith("step: "));
  st.bind(1, "g");
  CHECK(st.run().is_ok());
}

TEST_CASE("statements bind and read back nulls, integers, reals and text") {
  auto c = open_memory();
  Statement& st = c->prepare("SELECT ?1, ?2, ?3, ?4, ?5");
  st.bind(1, std::optional<int>{}).bind(2, std::int64_t{1} << 40).bind(3, 2.5).bind(4, std::string("a\0b", 3));
  st.bind(5, std::optional<std::string>("x"));
  REQUIRE(st.step());
  CHECK(st.is_null(0));
  CHECK_FALSE(st.opt_int(0));
  CHECK_FALSE(st.opt_text(0));
  CHECK_FALSE(st.opt_real(0));
  CHECK(st.int64(1) == (std::int64_t{1} << 40));
  CHECK(st.opt_int64(1) == (std::int64_t{1} << 40));
  CHECK(st.real(2) == 2.5);
  CHECK(st.text(3) == std::string("a\0b", 3));
  CHECK(st.opt_text(4) == "x");
  st.reset();
}

TEST_CASE("prepare returns the cached statement reset and with its bindings cleared") {
  auto c = open_memory();
  Statement& a = c->prepare("SELECT ?1");
  a.bind(1, 7);
  REQUIRE(a.step());
  Statement& b = c->prepare("SELECT ?1");
  CHECK(&a == &b);
  REQUIRE(b.step());
  CHECK(b.is_null(0));
  b.reset();
}

TEST_CASE("malformed SQL is a bug and throws at prepare") {
  auto c = open_memory();
  CHECK_THROWS_AS(c->prepare("SELEKT 1"), std::runtime_error);
}

TEST_CASE("exec reports SQL errors as internal errors with SQLite's message") {
  auto c = open_memory();
  Status s = c->exec("INSERT INTO nowhere VALUES(1)");
  CHECK(s.code() == Code::kInternal);
  CHECK(s.message() == "sqlite: no such table: nowhere");
}

TEST_CASE("a new database file is never left empty, and an empty one is refused") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("esmd-prepare-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "esmd.sqlite3").string();

  // A stale temporary file from a start killed mid-creation is replaced.
  { std::ofstream(path + ".new") << "junk"; }
  REQUIRE(prepare_database_file(path).is_ok());
  CHECK(fs::file_size(path) > 0);
  CHECK_FALSE(fs::exists(path + ".new"));
  {
    auto c = Connection::open(path, Durability::kNormal);
    REQUIRE(c);
    REQUIRE(migrate(**c).is_ok());
  }
  CHECK(prepare_database_file(path).is_ok());  // an existing database is left alone

  fs::resize_file(path, 0);
  Status s = prepare_database_file(path);
  CHECK(s.code() == Code::kInternal);
  CHECK_THAT(s.message(), Catch::Contains("is an empty (0-byte) file") && Catch::Contains(path));
  // A 0-byte file whose write-ahead log holds the data is a database in WAL mode, not a loss.
  { std::ofstream(path + "-wal") << "wal"; }
  CHECK(prepare_database_file(path).is_ok());
  fs::remove_all(dir);
}
