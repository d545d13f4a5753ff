#include "store/database.h"
#include "store/migrations.h"

namespace fleet::store {

int schema_version(Database& db) {
  auto has = db.prepare("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_version'");
  has.step();
  if (has.int64(0) == 0) return 0;
  auto v = db.prepare("SELECT coalesce(max(version), 0) FROM schema_version");
  v.step();
  return static_cast<int>(v.int64(0));
}

int migrate(Database& db, int target) {
  const auto& all = migrations();
  int latest = all.empty() ? 0 : all.back().number;
  if (target < 0) target = latest;
  // Up to date (every open but the first): no write lock, so a view never waits behind the daemon.
  if (schema_version(db) == latest && target >= latest) return latest;
  // Else one immediate transaction from reading the version to the last migration: two processes
  // opening a new database at once (the daemon and a CLI view) must not both apply 0001.
  Transaction tx(db);
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
      "applied_ms INTEGER NOT NULL DEFAULT (CAST(strftime('%s','now') AS INTEGER) * 1000))");
  int current = schema_version(db);
  if (current > latest)
    throw StoreError("database schema version " + std::to_string(current) + " is newer than this program (" +
                     std::to_string(latest) + "): upgrade tasmota-fleet");
  for (const auto& m : all) {
    if (m.number <= current || m.number > target) continue;
    try {
      db.exec(m.sql);
    } catch (const StoreError& e) {
      throw StoreError(std::string("migration ") + m.name + " failed: " + e.what());
    }
    db.prepare("INSERT INTO schema_version (version, name) VALUES (?, ?)").bind(1, std::int64_t{m.number}).bind(2, m.name).run();
    current = m.number;
  }
  tx.commit();
  return current;
}

}  // namespace fleet::store
