#include "cli/restore_cmd.h"

#include <unistd.h>

#include <fmt/format.h>

#include <iostream>

#include "backup/restore_job.h"
#include "orchestrator/restore_device_job.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/sqlite_backup_store.h"
#include "store/sqlite_job_store.h"

namespace fleet::cli {

int run_restore(const RestoreOptions& o, const inventory::DeviceRecord& device) {
  auto name = device.topic.value_or(device.mac);
  auto version = planner::Version::parse(device.version.value_or(""));
  if (!device.topic || !version) {
    std::cout << name << ": cannot restore: the inventory does not know its topic and version yet\n";
    return 1;
  }
  if (!device.online && !o.dry_run) {
    std::cout << name << ": cannot restore: the device is offline\n";
    return 1;
  }
  store::Database db(o.base.db);
  store::migrate(db);
  store::SqliteBackupStore backups(db);
  std::optional<backup::BackupRecord> record;
  if (o.backup_id) {
    record = backups.get(*o.backup_id);
    if (!record) throw std::runtime_error(fmt::format("no backup #{}", *o.backup_id));
    if (record->device_mac != device.mac)
      std::cout << fmt::format("note: backup #{} was taken from {} ({}), not from this device\n", record->id, record->topic, record->device_mac);
  } else {
    for (auto& r : backups.list(device.mac))
      if (r.bytes > 0) {
        record = backups.get(r.id);
        break;
      }
    if (!record) {
      std::cout << name << ": no backup with a settings file: take one first (tasmota-fleet backup " << name << ")\n";
      return 1;
    }
  }
  if (record->dmp.empty()) {
    std::cout << fmt::format("backup #{} is a snapshot only: nothing to upload or replay from\n", record->id);
    return 1;
  }
  store::SqliteJobStore jobs(db);
  if (auto held = orchestrator::held_by_upgrade_job(jobs, device.mac)) {
    // The upgrade job restores the device itself; a second restore in between would race it.
    std::cout << fmt::format("{}: not restored: {}\n", name, *held);
    return 1;
  }
  backup::RestoreSettings rs;
  if (o.method == "mqtt") rs.method = backup::RestoreSettings::Method::Mqtt;
  else if (o.method == "http") rs.method = backup::RestoreSettings::Method::Http;
  else if (o.method == "commands") rs.method = backup::RestoreSettings::Method::Commands;
  else if (o.method != "auto") throw std::runtime_error("--method must be auto, mqtt, http or commands");
  auto access = access_for(o.base, load_credentials(o.base), device);
  rs.device_mqtt_password = access.mqtt_password;
  rs.verify = o.verify;
  backup::BackupTarget target{device.mac, *device.topic, device.ip.value_or(""), *version, planner::parse_chip(device.chip.value_or(""))};
  backup::RestoreJob job(target, record->dmp, rs);
  std::cout << fmt::format("restore {} (Tasmota {} on {}) from backup #{} (Tasmota {}, {} bytes, sha256 {})\n", name, version->str(),
                           device.chip.value_or("?"), record->id, record->version, record->bytes, record->sha256.substr(0, 16));
  const auto& plan = job.plan();
  if (!plan.refusals.empty()) {
    for (auto& r : plan.refusals) std::cout << "  refused: " << r << "\n";
    return 1;
  }
  std::cout << "  how: " << plan.how << "\n";
  for (auto& s : plan.steps) std::cout << "  - " << s << "\n";
  if (o.dry_run) {
    std::cout << "dry run: nothing was sent\n";
    return 0;
  }
  // The backup this job relies on must survive any retention run meanwhile.
  std::string pin = fmt::format("restore-{}", ::getpid());
  backups.pin(record->id, pin);
  auto task = std::make_shared<orchestrator::RestoreDeviceJob>(device.mac, device.ip.value_or(""), access, job);
  task->set_fallbacks(orchestrator::fallbacks_for(device));
  auto run = o.base.run;
  run.overall_timeout_ms = 300'000;
  orchestrator::run_locally(run, {task});
  backups.pin(record->id, std::nullopt);
  for (auto& l : job.log()) std::cout << "  " << l << "\n";
  if (!task->gave_up().empty()) {
    std::cout << name << ": RESTORE NOT FINISHED: " << task->gave_up() << "\n";
    return 1;
  }
  if (!job.succeeded()) {
    for (auto& p : job.problems()) std::cout << name << ": RESTORE FAILED: " << p << "\n";
    return 1;
  }
  std::cout << fmt::format("{}: restored{}\n", name, o.verify ? " and verified" : " (not verified: --no-verify)");
  return 0;
}

}  // namespace fleet::cli
