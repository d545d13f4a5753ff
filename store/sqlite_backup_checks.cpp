#include "store/sqlite_backup_checks.h"

namespace fleet::store {

void SqliteBackupChecks::add(const orchestrator::BackupCheck& c) {
  db_.prepare("INSERT INTO backup_checks (device_mac, checked_ms, outcome, backup_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)")
      .bind(1, c.device_mac)
      .bind(2, c.checked_ms)
      .bind(3, c.outcome)
      .bind(4, c.backup_id)
      .bind(5, c.detail)
      .run();
}

std::map<std::string, orchestrator::BackupCheck> SqliteBackupChecks::latest() {
  std::map<std::string, orchestrator::BackupCheck> out;
  // (The newest row per device: SQLite takes the other columns from the row with the max.)
  auto st = db_.prepare("SELECT device_mac, max(checked_ms), outcome, backup_id, detail FROM backup_checks GROUP BY device_mac");
  while (st.step()) out[st.text(0)] = orchestrator::BackupCheck{st.text(0), st.int64(1), st.text(2), st.opt_int64(3), st.text(4)};
  return out;
}

}  // namespace fleet::store
