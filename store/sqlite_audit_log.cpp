#include "store/sqlite_audit_log.h"

#include <utility>

namespace fleet::store {

void SqliteAuditLog::append(const std::vector<orchestrator::AuditEntry>& entries) {
  if (entries.empty()) return;
  Transaction tx(db_);
  auto q = db_.prepare("INSERT INTO audit_log (at_ms, rollout_id, device_mac, job_id, kind, text) VALUES (?, ?, ?, ?, ?, ?)");
  for (const auto& e : entries) {
    q.bind(1, e.at_ms).bind(2, e.rollout_id).bind(3, e.device_mac).bind(4, e.job_id).bind(5, e.kind).bind(6, e.text);
    q.run();
    q.reset();
  }
  tx.commit();
}

std::vector<orchestrator::AuditEntry> SqliteAuditLog::read(const orchestrator::AuditQuery& query) {
  std::string sql = "SELECT id, at_ms, rollout_id, device_mac, job_id, kind, text FROM audit_log WHERE id > ?";
  if (query.device_mac) sql += " AND device_mac = ?";
  if (query.rollout_id) sql += " AND rollout_id = ?";
  sql += " ORDER BY id LIMIT ?";
  auto q = db_.prepare(sql);
  int i = 1;
  q.bind(i++, query.after_id);
  if (query.device_mac) q.bind(i++, *query.device_mac);
  if (query.rollout_id) q.bind(i++, *query.rollout_id);
  q.bind(i++, static_cast<std::int64_t>(query.limit));
  std::vector<orchestrator::AuditEntry> out;
  while (q.step()) {
    orchestrator::AuditEntry e;
    e.id = q.int64(0);
    e.at_ms = q.int64(1);
    e.rollout_id = q.opt_int64(2);
    e.device_mac = q.opt_text(3);
    e.job_id = q.opt_int64(4);
    e.kind = q.text(5);
    e.text = q.text(6);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace fleet::store
