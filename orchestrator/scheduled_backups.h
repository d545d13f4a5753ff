#pragma once
// serve --backup-every: the daemon's scheduled backups. Starts the devices backup_schedule.h says are
// due on the job runner, and at each one's end stores it only when the settings changed since the
// device's newest backup: then with a drift event naming the fields (audit log, the device's retained
// <base>/v1/devices/<MAC>/backup); an equal one is recorded as "unchanged" and nothing is stored twice.
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "backup/backup_store.h"
#include "core/clock.h"
#include "core/transport.h"
#include "inventory/inventory.h"
#include "orchestrator/audit_log.h"
#include "orchestrator/backup_checks.h"
#include "orchestrator/backup_device_job.h"
#include "orchestrator/backup_schedule.h"
#include "orchestrator/job_runner.h"
#include "orchestrator/job_store.h"

namespace fleet::orchestrator {

struct ScheduledBackupPorts {
  backup::BackupStore& backups;
  BackupChecks& checks;
  AuditLog& audit;
  JobStore& jobs;
  JobRunner& runner;
  const inventory::Inventory& inventory;
  core::Transport& transport;
  const core::Clock& clock;
};

struct ScheduledBackupOptions {
  double every_s = 0;
  int keep = 0;                 // the newest N kept per device after each one stored (0: all)
  std::string state_base;       // "<base>/v1": the retained backup topics below it; empty: none
  std::function<DeviceAccess(const inventory::DeviceRecord& device)> access_for;
};

class ScheduledBackups {
 public:
  // `newest_backup_ms`: each device's newest backup (a device checked by hand counts as checked then).
  ScheduledBackups(ScheduledBackupPorts ports, ScheduledBackupOptions options, const std::map<std::string, std::int64_t>& newest_backup_ms);
  void tick(std::int64_t now_ms);  // starts the devices due (looked at once a second)
  // A backup job the runner is done with: true when it was a scheduled one (then handled here).
  bool on_done(const BackupDeviceJob& job);

 private:
  ScheduledBackupPorts p_;
  ScheduledBackupOptions o_;
  BackupSchedule schedule_;
  std::map<std::string, std::pair<std::int64_t, bool>> last_check_;  // MAC -> (when, worth retrying soon)
  std::set<const DeviceJob*> running_;
  std::int64_t last_tick_ms_ = 0;
};

}  // namespace fleet::orchestrator
