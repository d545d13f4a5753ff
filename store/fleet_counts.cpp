#include "store/fleet_counts.h"

namespace fleet::store {

FleetCounts fleet_counts(Database& db) {
  FleetCounts out;
  auto grouped = [&](const char* sql, std::map<std::string, std::int64_t>& into) {
    auto st = db.prepare(sql);
    while (st.step()) into[st.text(0)] = st.int64(1);
  };
  grouped("SELECT status, count(*) FROM upgrade_jobs GROUP BY status", out.jobs_by_status);
  grouped("SELECT status, count(*) FROM rollouts GROUP BY status", out.rollouts_by_status);
  // A scheduled check that found the settings equal to the newest backup makes that backup current then.
  grouped("SELECT device_mac, max(at) FROM (SELECT device_mac, taken_ms AS at FROM backups UNION ALL "
          "SELECT device_mac, checked_ms FROM backup_checks WHERE outcome = 'unchanged') GROUP BY device_mac",
          out.newest_backup_ms);
  return out;
}

}  // namespace fleet::store
