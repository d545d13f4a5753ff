#include "orchestrator/scheduled_backups.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "backup/dmp_file.h"
#include "backup/settings_diff.h"
#include "backup/settings_layouts.h"
#include "core/log.h"

namespace fleet::orchestrator {
namespace {

std::optional<nlohmann::ordered_json> decoded(const std::vector<std::uint8_t>& dmp) {
  auto f = backup::read_dmp(dmp);
  if (!f.file) return std::nullopt;
  return backup::SettingsLayouts::builtin().decode(*f.file).fields;
}

}  // namespace

ScheduledBackups::ScheduledBackups(ScheduledBackupPorts ports, ScheduledBackupOptions options,
                                   const std::map<std::string, std::int64_t>& newest_backup_ms)
    : p_(ports), o_(std::move(options)), schedule_{static_cast<std::int64_t>(o_.every_s * 1000), p_.clock.now_ms(), 2} {
  // As at runtime: a failed check without a settings file answered is retried soon, one that got an
  // answer without a settings file next period.
  for (const auto& [mac, c] : p_.checks.latest())
    last_check_[mac] = {c.checked_ms, c.outcome == "failed" && c.detail.rfind("no settings file", 0) != 0};
  for (const auto& [mac, taken] : newest_backup_ms)
    if (!last_check_.count(mac) || last_check_[mac].first < taken) last_check_[mac] = {taken, false};
}

void ScheduledBackups::tick(std::int64_t now) {
  if (schedule_.period_ms <= 0 || now - last_tick_ms_ < 1000) return;
  last_tick_ms_ = now;
  std::vector<ScheduledDevice> devices;
  p_.inventory.for_each([&](const inventory::DeviceRecord& d) {
    ScheduledDevice sd{d.mac, d.online && d.topic && d.version, p_.runner.has(d.mac), std::nullopt, false};
    if (auto it = last_check_.find(d.mac); it != last_check_.end()) {
      sd.last_ms = it->second.first;
      sd.last_failed = it->second.second;
    }
    devices.push_back(std::move(sd));
  });
  for (const auto& mac : due_now(schedule_, devices, running_.size(), now)) {
    const auto* d = p_.inventory.find(mac);
    if (!d || held_by_upgrade_job(p_.jobs, mac)) continue;  // (another process's upgrade job: later)
    auto access = o_.access_for ? o_.access_for(*d) : DeviceAccess{};
    backup::BackupSettings bs;
    bs.device_mqtt_password = access.mqtt_password;
    auto job = std::make_shared<BackupDeviceJob>(*d, access, bs);
    running_.insert(job.get());
    p_.runner.add(job);
  }
}

bool ScheduledBackups::on_done(const BackupDeviceJob& job) {
  if (!running_.erase(&job)) return false;
  auto now = p_.clock.now_ms();
  const auto& mac = job.mac();
  BackupCheck check{mac, now, "failed", std::nullopt, ""};
  nlohmann::json out = {{"device", job.device().topic.value_or(mac)}, {"scheduled", true}, {"status", "failed"}, {"problems", job.job().problems()}};
  std::vector<AuditEntry> entries;
  auto entry = [&](const char* kind, std::string text) { entries.push_back(AuditEntry{0, now, std::nullopt, mac, std::nullopt, kind, std::move(text)}); };
  const auto& r = job.job().result();
  try {
    if (!r || r->dmp.empty()) {
      check.detail = !job.gave_up().empty()          ? job.gave_up()
                     : r                             ? "no settings file (a snapshot only)"
                     : job.job().problems().empty() ? "no reply"
                                                     : job.job().problems().back();
      entry("state", "scheduled backup failed: " + check.detail);
    } else {
      std::optional<backup::BackupRecord> previous;
      for (const auto& b : p_.backups.list(mac))
        if (b.bytes > 0) {
          previous = p_.backups.get(b.id);
          break;
        }
      std::optional<backup::SettingsDiff> drift;
      if (previous && previous->version == r->version) {
        auto before = decoded(previous->dmp), after = decoded(r->dmp);
        if (before && after) drift = backup::diff_settings(*before, *after);
      }
      if (drift && drift->empty()) {
        check.outcome = "unchanged";
        check.backup_id = previous->id;
        out["status"] = "unchanged";
        out["id"] = previous->id;
        entry("state", fmt::format("scheduled backup: unchanged, the settings equal backup #{}", previous->id));
      } else {
        auto id = p_.backups.add(*r);
        if (o_.keep > 0) p_.backups.prune(o_.keep);
        check.outcome = "stored";
        check.backup_id = id;
        out["status"] = "done";
        out["id"] = id;
        std::string note = previous && !drift ? fmt::format(" (Tasmota {} since backup #{} on {}: not compared)", r->version, previous->id, previous->version) : "";
        entry("state", fmt::format("scheduled backup #{}{}", id, note));
        if (drift) {
          std::vector<std::string> fields;
          std::string names;
          for (const auto& c : drift->changed) fields.push_back(c.field);
          for (const auto& f : fields) names += (names.empty() ? "" : ", ") + f;
          for (const auto& f : drift->secrets_changed) names += (names.empty() ? "" : ", ") + f + " (a secret)";
          out["drift"] = {{"since", previous->id}, {"changed", fields}, {"secrets_changed", drift->secrets_changed}};
          entry("drift", fmt::format("settings changed since backup #{}: {}", previous->id, names));
        }
      }
    }
    p_.checks.add(check);
    p_.audit.append(entries);
  } catch (const std::exception& e) {
    log::warn("backup schedule: {}: {}", mac, e.what());
  }
  // No reply is worth trying again soon; a device that answered without a settings file is not.
  last_check_[mac] = {now, !r};
  if (!o_.state_base.empty()) p_.transport.publish_retained(o_.state_base + "/devices/" + mac + "/backup", out.dump());
  return true;
}

}  // namespace fleet::orchestrator
