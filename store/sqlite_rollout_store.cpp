#include "store/sqlite_rollout_store.h"

#include <sqlite3.h>

namespace fleet::store {
namespace {

using orchestrator::RolloutDeviceRow;
using orchestrator::RolloutRow;

constexpr const char* kRolloutColumns =
    "id, name, spec, status, current_group, reason, lease_owner, lease_until_ms, created_ms, updated_ms, acknowledged_errors, devices_rev";
constexpr const char* kDeviceColumns =
    "rollout_id, mac, name, group_index, status, job_id, reason, attempt, waiting_since_ms, started_ms, finished_ms";
// What counts as unfinished, for unfinished() and active_rollout_of() alike.
constexpr const char* kUnfinished = "('ready', 'running', 'paused')";

RolloutRow rollout_row(Statement& q) {
  RolloutRow r;
  int c = 0;
  r.id = q.int64(c++);
  r.name = q.text(c++);
  r.spec = q.text(c++);
  r.status = q.text(c++);
  r.current_group = static_cast<int>(q.int64(c++));
  r.reason = q.text(c++);
  r.lease_owner = q.opt_text(c++);
  r.lease_until_ms = q.int64(c++);
  r.created_ms = q.int64(c++);
  r.updated_ms = q.int64(c++);
  r.acknowledged_errors = static_cast<int>(q.int64(c++));
  r.devices_rev = q.int64(c++);
  return r;
}

RolloutDeviceRow device_row(Statement& q) {
  RolloutDeviceRow r;
  int c = 0;
  r.rollout_id = q.int64(c++);
  r.mac = q.text(c++);
  r.name = q.text(c++);
  r.group_index = static_cast<int>(q.int64(c++));
  r.status = q.text(c++);
  r.job_id = q.opt_int64(c++);
  r.reason = q.text(c++);
  r.attempt = static_cast<int>(q.int64(c++));
  r.waiting_since_ms = q.int64(c++);
  r.started_ms = q.int64(c++);
  r.finished_ms = q.int64(c++);
  return r;
}

// An update that matched nothing is a caller's mistake (a wrong id), not something to pass over silently.
void expect_changed(Database& db, const std::string& what) {
  if (sqlite3_changes(db.handle()) == 0) throw StoreError("no " + what);
}

std::string rollout_name(std::int64_t id) { return "rollout " + std::to_string(id); }

}  // namespace

std::int64_t SqliteRolloutStore::create(const RolloutRow& r, const std::vector<RolloutDeviceRow>& devices) {
  Transaction tx(db_);
  auto q = db_.prepare(
      "INSERT INTO rollouts (name, spec, status, current_group, reason, lease_owner, lease_until_ms, created_ms, updated_ms) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  q.bind(1, r.name).bind(2, r.spec).bind(3, r.status).bind(4, std::int64_t{r.current_group}).bind(5, r.reason);
  q.bind(6, r.lease_owner).bind(7, r.lease_until_ms).bind(8, r.created_ms).bind(9, r.updated_ms ? r.updated_ms : r.created_ms);
  q.run();
  auto id = sqlite3_last_insert_rowid(db_.handle());
  auto d = db_.prepare(
      "INSERT INTO rollout_devices (rollout_id, mac, name, group_index, status, job_id, reason, attempt, waiting_since_ms, "
      "started_ms, finished_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  for (const auto& dev : devices) {
    d.bind(1, id).bind(2, dev.mac).bind(3, dev.name).bind(4, std::int64_t{dev.group_index}).bind(5, dev.status).bind(6, dev.job_id);
    d.bind(7, dev.reason).bind(8, std::int64_t{dev.attempt}).bind(9, dev.waiting_since_ms).bind(10, dev.started_ms);
    d.bind(11, dev.finished_ms);
    d.run();
    d.reset();
  }
  tx.commit();
  return id;
}

std::optional<RolloutRow> SqliteRolloutStore::get(std::int64_t id) {
  auto q = db_.prepare(std::string("SELECT ") + kRolloutColumns + " FROM rollouts WHERE id = ?");
  q.bind(1, id);
  if (!q.step()) return std::nullopt;
  return rollout_row(q);
}

std::vector<RolloutRow> SqliteRolloutStore::list(std::size_t limit) {
  auto q = db_.prepare(std::string("SELECT ") + kRolloutColumns + " FROM rollouts ORDER BY id DESC LIMIT ?");
  q.bind(1, static_cast<std::int64_t>(limit));
  std::vector<RolloutRow> out;
  while (q.step()) out.push_back(rollout_row(q));
  return out;
}

std::vector<std::int64_t> SqliteRolloutStore::unfinished() {
  auto q = db_.prepare(std::string("SELECT id FROM rollouts WHERE status IN ") + kUnfinished + " ORDER BY id");
  std::vector<std::int64_t> out;
  while (q.step()) out.push_back(q.int64(0));
  return out;
}

std::vector<RolloutDeviceRow> SqliteRolloutStore::devices(std::int64_t rollout_id) {
  // The rowid is the insertion order: a group runs its devices in the order they were given.
  auto q = db_.prepare(std::string("SELECT ") + kDeviceColumns +
                       " FROM rollout_devices WHERE rollout_id = ? ORDER BY group_index, rowid");
  q.bind(1, rollout_id);
  std::vector<RolloutDeviceRow> out;
  while (q.step()) out.push_back(device_row(q));
  return out;
}

std::optional<RolloutDeviceRow> SqliteRolloutStore::device(std::int64_t rollout_id, const std::string& mac) {
  auto q = db_.prepare(std::string("SELECT ") + kDeviceColumns + " FROM rollout_devices WHERE rollout_id = ? AND mac = ?");
  q.bind(1, rollout_id).bind(2, mac);
  if (!q.step()) return std::nullopt;
  return device_row(q);
}

void SqliteRolloutStore::set_status(std::int64_t id, const std::string& status, const std::string& reason, std::int64_t now_ms) {
  auto q = db_.prepare("UPDATE rollouts SET status = ?, reason = ?, updated_ms = ? WHERE id = ?");
  q.bind(1, status).bind(2, reason).bind(3, now_ms).bind(4, id);
  q.run();  // autocommit: durable when it returns
  expect_changed(db_, rollout_name(id));
}

void SqliteRolloutStore::set_acknowledged_errors(std::int64_t id, int errors, std::int64_t now_ms) {
  auto q = db_.prepare("UPDATE rollouts SET acknowledged_errors = ?, updated_ms = ? WHERE id = ?");
  q.bind(1, std::int64_t{errors}).bind(2, now_ms).bind(3, id);
  q.run();
  expect_changed(db_, rollout_name(id));
}

void SqliteRolloutStore::set_group(std::int64_t id, int group, std::int64_t now_ms) {
  // A new group's failures are its own: nothing of it was acknowledged yet.
  auto q = db_.prepare("UPDATE rollouts SET current_group = ?, acknowledged_errors = 0, updated_ms = ? WHERE id = ?");
  q.bind(1, std::int64_t{group}).bind(2, now_ms).bind(3, id);
  q.run();
  expect_changed(db_, rollout_name(id));
}

void SqliteRolloutStore::update_device(const RolloutDeviceRow& r) {
  auto q = db_.prepare(
      "UPDATE rollout_devices SET status = ?, job_id = ?, reason = ?, attempt = ?, waiting_since_ms = ?, started_ms = ?, "
      "finished_ms = ? WHERE rollout_id = ? AND mac = ?");
  q.bind(1, r.status).bind(2, r.job_id).bind(3, r.reason).bind(4, std::int64_t{r.attempt}).bind(5, r.waiting_since_ms);
  q.bind(6, r.started_ms).bind(7, r.finished_ms).bind(8, r.rollout_id).bind(9, r.mac);
  q.run();
  expect_changed(db_, "device " + r.mac + " in " + rollout_name(r.rollout_id));
}

bool SqliteRolloutStore::acquire_lease(std::int64_t id, const std::string& owner, std::int64_t now_ms, std::int64_t duration_ms) {
  // One statement, so the test and the take are one write: of two processes racing for the lease, the
  // second sees the first's owner once the first has committed, and matches nothing.
  auto q = db_.prepare(
      "UPDATE rollouts SET lease_owner = ?1, lease_until_ms = ?2 "
      "WHERE id = ?3 AND (lease_owner IS NULL OR lease_owner = ?1 OR lease_until_ms <= ?4)");
  q.bind(1, owner).bind(2, now_ms + duration_ms).bind(3, id).bind(4, now_ms);
  q.run();
  return sqlite3_changes(db_.handle()) == 1;
}

void SqliteRolloutStore::release_lease(std::int64_t id, const std::string& owner) {
  auto q = db_.prepare("UPDATE rollouts SET lease_owner = NULL, lease_until_ms = 0 WHERE id = ? AND lease_owner = ?");
  q.bind(1, id).bind(2, owner);
  q.run();
}

std::optional<std::int64_t> SqliteRolloutStore::active_rollout_of(const std::string& mac) {
  auto q = db_.prepare(std::string("SELECT d.rollout_id FROM rollout_devices d JOIN rollouts r ON r.id = d.rollout_id "
                                   "WHERE d.mac = ? AND d.status IN ('scheduled', 'running') AND r.status IN ") +
                       kUnfinished + " ORDER BY d.rollout_id LIMIT 1");
  q.bind(1, mac);
  if (!q.step()) return std::nullopt;
  return q.int64(0);
}

}  // namespace fleet::store
