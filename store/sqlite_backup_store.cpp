#include "store/sqlite_backup_store.h"

#include <sqlite3.h>

#include "firmware/sha256.h"

namespace fleet::store {
namespace {

constexpr const char* kColumns =
    "id, device_mac, topic, version, chip, method, bytes, sha256, file_name, snapshot, taken_ms, pinned_by, note";

backup::BackupRecord row(Statement& q) {
  backup::BackupRecord r;
  int c = 0;
  r.id = q.int64(c++);
  r.device_mac = q.text(c++);
  r.topic = q.text(c++);
  r.version = q.text(c++);
  r.chip = q.text(c++);
  r.method = q.text(c++);
  r.bytes = q.int64(c++);
  r.sha256 = q.opt_text(c++).value_or("");
  r.file_name = q.opt_text(c++).value_or("");
  r.snapshot = q.opt_text(c++).value_or("");
  r.taken_ms = q.int64(c++);
  r.pinned_by = q.opt_text(c++);
  r.note = q.opt_text(c++).value_or("");
  return r;
}

}  // namespace

std::int64_t SqliteBackupStore::add(const backup::BackupRecord& r) {
  Transaction tx(db_);
  auto q = db_.prepare(
      "INSERT INTO backups (device_mac, topic, version, chip, method, dmp, bytes, sha256, file_name, snapshot, taken_ms, pinned_by, note) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  q.bind(1, r.device_mac).bind(2, r.topic).bind(3, r.version).bind(4, r.chip).bind(5, r.method);
  if (r.dmp.empty()) q.bind_null(6);
  else q.bind_blob(6, r.dmp);
  q.bind(7, static_cast<std::int64_t>(r.dmp.size()));
  // The hash is computed here, from the bytes stored, whatever the caller passed.
  if (r.dmp.empty()) q.bind_null(8);
  else q.bind(8, firmware::sha256_hex(r.dmp));
  q.bind(9, r.file_name).bind(10, r.snapshot).bind(11, r.taken_ms).bind(12, r.pinned_by).bind(13, r.note);
  q.run();
  auto id = sqlite3_last_insert_rowid(db_.handle());
  tx.commit();
  return id;
}

std::optional<backup::BackupRecord> SqliteBackupStore::get(std::int64_t id) {
  auto q = db_.prepare(std::string("SELECT ") + kColumns + ", dmp FROM backups WHERE id = ?");
  q.bind(1, id);
  if (!q.step()) return std::nullopt;
  auto r = row(q);
  r.dmp = q.blob(13);
  return r;
}

std::vector<backup::BackupRecord> SqliteBackupStore::list(const std::optional<std::string>& mac) {
  // Two statements, not "?1 IS NULL OR device_mac = ?1": that form cannot use the device index, and a
  // device's job asks for its backups with thousands of other devices' in the table.
  auto q = mac ? db_.prepare(std::string("SELECT ") + kColumns + " FROM backups WHERE device_mac = ? ORDER BY taken_ms DESC, id DESC")
               : db_.prepare(std::string("SELECT ") + kColumns + " FROM backups ORDER BY taken_ms DESC, id DESC");
  if (mac) q.bind(1, *mac);
  std::vector<backup::BackupRecord> out;
  while (q.step()) {
    out.push_back(row(q));
  }
  return out;
}

void SqliteBackupStore::pin(std::int64_t id, const std::optional<std::string>& job) {
  auto q = db_.prepare("UPDATE backups SET pinned_by = ? WHERE id = ?");
  q.bind(1, job).bind(2, id);
  q.run();
}

int SqliteBackupStore::prune(int keep) {
  Transaction tx(db_);
  auto q = db_.prepare(
      "DELETE FROM backups WHERE pinned_by IS NULL AND id IN ("
      " SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY device_mac ORDER BY taken_ms DESC, id DESC) AS n FROM backups)"
      " WHERE n > ?)");
  q.bind(1, static_cast<std::int64_t>(keep));
  q.run();
  int n = sqlite3_changes(db_.handle());
  tx.commit();
  return n;
}

}  // namespace fleet::store
