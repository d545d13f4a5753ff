#include "store/sqlite_job_store.h"

#include <sqlite3.h>

namespace fleet::store {
namespace {

constexpr const char* kColumns = "id, device_mac, target, target_build, hops, state, status, created_ms, updated_ms, rollout_id";

JobRow row(Statement& q) {
  JobRow r;
  r.id = q.int64(0);
  r.device_mac = q.text(1);
  r.target = q.text(2);
  r.target_build = q.text(3);
  r.hops = q.text(4);
  r.state = q.text(5);
  r.status = q.text(6);
  r.created_ms = q.int64(7);
  r.updated_ms = q.int64(8);
  r.rollout_id = q.opt_int64(9);
  return r;
}

}  // namespace

std::int64_t SqliteJobStore::create(const JobRow& r) {
  Transaction tx(db_);
  auto q = db_.prepare("INSERT INTO upgrade_jobs (device_mac, target, target_build, hops, state, status, created_ms, updated_ms, "
                       "rollout_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  q.bind(1, r.device_mac).bind(2, r.target).bind(3, r.target_build).bind(4, r.hops).bind(5, r.state).bind(6, r.status);
  q.bind(7, r.created_ms).bind(8, r.created_ms).bind(9, r.rollout_id);
  q.run();
  auto id = sqlite3_last_insert_rowid(db_.handle());
  tx.commit();
  return id;
}

void SqliteJobStore::save(std::int64_t id, const std::string& state, const std::string& status, std::int64_t now_ms) {
  auto q = db_.prepare("UPDATE upgrade_jobs SET state = ?, status = ?, updated_ms = ? WHERE id = ?");
  q.bind(1, state).bind(2, status).bind(3, now_ms).bind(4, id);
  q.run();  // autocommit: durable when it returns
}

void SqliteJobStore::add_events(std::int64_t id, const std::vector<std::string>& texts, std::int64_t now_ms) {
  if (texts.empty()) return;
  Transaction tx(db_);
  auto q = db_.prepare("INSERT INTO upgrade_events (job_id, at_ms, text) VALUES (?, ?, ?)");
  for (const auto& t : texts) {
    q.bind(1, id).bind(2, now_ms).bind(3, t);
    q.run();
    q.reset();
  }
  tx.commit();
}

std::optional<JobRow> SqliteJobStore::running_for(const std::string& mac) {
  auto q = db_.prepare(std::string("SELECT ") + kColumns + " FROM upgrade_jobs WHERE device_mac = ? AND status = 'running'");
  q.bind(1, mac);
  if (!q.step()) return std::nullopt;
  return row(q);
}

std::optional<JobRow> SqliteJobStore::get(std::int64_t id) {
  auto q = db_.prepare(std::string("SELECT ") + kColumns + " FROM upgrade_jobs WHERE id = ?");
  q.bind(1, id);
  if (!q.step()) return std::nullopt;
  return row(q);
}

std::vector<JobRow> SqliteJobStore::recent(std::size_t limit) {
  auto q = db_.prepare(std::string("SELECT ") + kColumns + " FROM upgrade_jobs ORDER BY id DESC LIMIT ?");
  q.bind(1, static_cast<std::int64_t>(limit));
  std::vector<JobRow> out;
  while (q.step()) out.push_back(row(q));
  return out;
}

std::vector<std::string> SqliteJobStore::events(std::int64_t id) {
  auto q = db_.prepare("SELECT text FROM upgrade_events WHERE job_id = ? ORDER BY id");
  q.bind(1, id);
  std::vector<std::string> out;
  while (q.step()) out.push_back(q.text(0));
  return out;
}

}  // namespace fleet::store
