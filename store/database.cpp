#include "store/database.h"

#include <chrono>
#include <thread>

#include <sqlite3.h>

namespace fleet::store {
namespace {
[[noreturn]] void fail(sqlite3* db, std::string_view what) {
  throw StoreError(std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}
}  // namespace

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK)
    fail(db, "prepare '" + std::string(sql.substr(0, 60)) + "'");
}

Statement::~Statement() {
  if (!stmt_) return;
  if (owner_) owner_->give_back(std::move(sql_), stmt_);
  else sqlite3_finalize(stmt_);
}

Statement Database::prepare(std::string_view sql) {
  std::string key(sql);
  if (auto it = idle_.find(key); it != idle_.end() && !it->second.empty()) {
    sqlite3_stmt* stmt = it->second.back();
    it->second.pop_back();
    --idle_count_;
    return Statement(db_, stmt, this, std::move(key));
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK)
    fail(db_, "prepare '" + std::string(sql.substr(0, 60)) + "'");
  return Statement(db_, stmt, this, std::move(key));
}

void Database::give_back(std::string sql, sqlite3_stmt* stmt) {
  // Reset ends its read of the database (an unreset statement would hold a snapshot open).
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (idle_count_ >= 256) {  // statements built from varying SQL must not pile up
    sqlite3_finalize(stmt);
    return;
  }
  idle_[std::move(sql)].push_back(stmt);
  ++idle_count_;
}

Statement& Statement::bind(int i, std::int64_t v) {
  if (sqlite3_bind_int64(stmt_, i, v) != SQLITE_OK) fail(db_, "bind");
  return *this;
}
Statement& Statement::bind(int i, std::string_view v) {
  if (sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) != SQLITE_OK) fail(db_, "bind");
  return *this;
}
Statement& Statement::bind(int i, const std::optional<std::string>& v) { return v ? bind(i, std::string_view(*v)) : bind_null(i); }
Statement& Statement::bind(int i, const std::optional<std::int64_t>& v) { return v ? bind(i, *v) : bind_null(i); }
Statement& Statement::bind_null(int i) {
  if (sqlite3_bind_null(stmt_, i) != SQLITE_OK) fail(db_, "bind");
  return *this;
}

Statement& Statement::bind_blob(int i, const std::vector<std::uint8_t>& bytes) {
  if (sqlite3_bind_blob(stmt_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT) != SQLITE_OK) fail(db_, "bind");
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, "step");
}
void Statement::run() {
  while (step()) {
  }
}
void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
std::int64_t Statement::int64(int c) const { return sqlite3_column_int64(stmt_, c); }
std::string Statement::text(int c) const {
  auto p = sqlite3_column_text(stmt_, c);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, c)) : std::string();
}
std::vector<std::uint8_t> Statement::blob(int c) const {
  auto p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, c));
  auto n = sqlite3_column_bytes(stmt_, c);
  return p ? std::vector<std::uint8_t>(p, p + n) : std::vector<std::uint8_t>();
}
std::optional<std::string> Statement::opt_text(int c) const { return is_null(c) ? std::nullopt : std::optional(text(c)); }
std::optional<std::int64_t> Statement::opt_int64(int c) const { return is_null(c) ? std::nullopt : std::optional(int64(c)); }

Database::Database(const std::string& path, Mode mode) {
  int flags = mode == Mode::ReadOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string msg = "open " + path + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory");
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError(msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  if (mode == Mode::ReadWrite) {
    // Switching a new file to WAL takes an exclusive lock and SQLite does not call the busy handler for it:
    // a second process opening the same new database at that moment gets "locked" at once, so wait here.
    for (int waited_ms = 0;; waited_ms += 10) {
      try {
        exec("PRAGMA journal_mode=WAL");
        break;
      } catch (const StoreError&) {
        if (sqlite3_errcode(db_) != SQLITE_BUSY || waited_ms >= 5000) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    exec("PRAGMA synchronous=NORMAL");  // WAL + NORMAL: durable at checkpoints, no fsync per commit
  }
  exec("PRAGMA foreign_keys=ON");
}

Database::~Database() {
  for (auto& [sql, stmts] : idle_)
    for (auto* stmt : stmts) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

void Database::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw StoreError(msg);
  }
}

// Begin, commit and savepoints as kept statements (Database::prepare), not parsed again each loop turn.
// One savepoint name for every level: SQLite releases and rolls back the innermost of that name.
Transaction::Transaction(Database& db) : db_(db) {
  if (sqlite3_get_autocommit(db_.handle())) {
    db_.prepare("BEGIN IMMEDIATE").run();
  } else {
    nested_ = true;
    db_.prepare("SAVEPOINT fleet_tx").run();
  }
}

Transaction::~Transaction() {
  if (done_) return;
  try {
    if (!nested_) {
      db_.prepare("ROLLBACK").run();
    } else {
      db_.prepare("ROLLBACK TO fleet_tx").run();
      db_.prepare("RELEASE fleet_tx").run();
    }
  } catch (...) {
  }
}

void Transaction::commit() {
  db_.prepare(nested_ ? "RELEASE fleet_tx" : "COMMIT").run();
  done_ = true;
}

Turn::Turn(Database& db) : db_(db) {
  if (!sqlite3_get_autocommit(db_.handle())) {  // already in one (a failed rollback left it): not ours to end
    inside_other_ = true;
    return;
  }
  try {
    db_.prepare("BEGIN IMMEDIATE").run();
    open_ = true;
  } catch (const StoreError&) {
    // Busy past the timeout: the turn's writes commit one by one, as without a turn.
  }
}

Turn::~Turn() {
  if (open_ && !sqlite3_get_autocommit(db_.handle())) {
    try {
      db_.prepare("ROLLBACK").run();
    } catch (...) {
    }
  }
}

bool Turn::commit() {
  if (inside_other_) return false;
  if (!open_) return true;  // BEGIN was busy: each write committed on its own
  open_ = false;
  if (sqlite3_get_autocommit(db_.handle())) return false;  // SQLite rolled it back itself (disk full, I/O error)
  try {
    db_.prepare("COMMIT").run();
    return true;
  } catch (const StoreError&) {
    try {
      db_.prepare("ROLLBACK").run();
    } catch (...) {
    }
    return false;
  }
}

}  // namespace fleet::store
