#pragma once
// A small RAII layer over sqlite3: one connection, prepared statements, transactions.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace fleet::store {

struct StoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Database;

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();  // back to its database's cache, reset, for the next prepare of the same SQL
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_), owner_(o.owner_), sql_(std::move(o.sql_)) { o.stmt_ = nullptr; }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::optional<std::string>& value);
  Statement& bind(int index, const std::optional<std::int64_t>& value);
  Statement& bind_null(int index);
  Statement& bind_blob(int index, const std::vector<std::uint8_t>& bytes);

  bool step();  // true: a row is ready
  void run();   // step to completion
  void reset();

  bool is_null(int col) const;
  std::int64_t int64(int col) const;
  std::string text(int col) const;
  std::optional<std::string> opt_text(int col) const;
  std::optional<std::int64_t> opt_int64(int col) const;
  std::vector<std::uint8_t> blob(int col) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt, Database* owner, std::string sql)
      : db_(db), stmt_(stmt), owner_(owner), sql_(std::move(sql)) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  Database* owner_ = nullptr;  // set when it came from Database::prepare
  std::string sql_;
};

class Database {
 public:
  enum class Mode { ReadWrite, ReadOnly };
  // Opens (creating it in ReadWrite mode) with WAL journaling and a busy timeout, so the daemon
  // writing and the CLI reading never get in each other's way.
  explicit Database(const std::string& path, Mode mode = Mode::ReadWrite);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(std::string_view sql);
  // Compiled once per connection and kept: the daemon runs the same few statements for every device
  // step, and compiling them was a tenth of its CPU (bench/rollout). A statement still in use when the
  // same SQL is asked for again is not shared: the second one is compiled anew.
  Statement prepare(std::string_view sql);
  sqlite3* handle() { return db_; }

 private:
  friend class Statement;
  void give_back(std::string sql, sqlite3_stmt* stmt);
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, std::vector<sqlite3_stmt*>> idle_;
  std::size_t idle_count_ = 0;
};

// A unit of work. Inside another one (the daemon runs each loop turn in one, see Turn) it is a savepoint:
// its rollback undoes only its own writes, its commit becomes durable with the outer commit.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool nested_ = false;  // a savepoint inside another transaction, not one of its own
  bool done_ = false;
};

// The daemon's loop turn: every write of the turn in one commit (a commit per job step and audit batch
// was a fifth of the daemon's CPU). Whoever sends commands in the turn must hold them until commit()
// returns: "committed before a destructive command" then holds for the whole turn.
class Turn {
 public:
  explicit Turn(Database& db);
  ~Turn();         // rolls back what was not committed
  bool commit();   // false: the turn's writes are lost (logged), and what it would send must not go out

 private:
  Database& db_;
  bool open_ = false;
  bool inside_other_ = false;  // a transaction was already open: nothing of this turn is known committed
};

}  // namespace fleet::store
