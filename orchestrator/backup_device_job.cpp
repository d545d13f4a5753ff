#include "orchestrator/backup_device_job.h"

#include <fmt/format.h>

namespace fleet::orchestrator {

BackupDeviceJob::BackupDeviceJob(inventory::DeviceRecord device, DeviceAccess access, backup::BackupSettings settings)
    : DeviceJob(device.mac, device.ip.value_or(""), std::move(access)),
      device_(std::move(device)),
      job_(backup::BackupTarget{device_.mac, device_.topic.value_or(""), device_.ip.value_or(""),
                                planner::Version::parse(device_.version.value_or("")).value_or(planner::Version{}),
                                planner::parse_chip(device_.chip.value_or(""))},
           std::move(settings)) {
  set_fallbacks(fallbacks_for(device_));  // its record names them: every creator would set the same
}

std::vector<backup::DeviceAction> BackupDeviceJob::on_message(mqtt::Prefix prefix, std::string_view suffix,
                                                              std::string_view payload, std::int64_t now) {
  if (prefix != mqtt::Prefix::Stat) return {};
  return job_.on_message(suffix, payload, now);
}

std::vector<backup::DeviceAction> BackupDeviceJob::on_http(const firmware::Download& d, std::int64_t now) {
  if (d.ok) return job_.on_http(d.bytes, "", now);
  return job_.on_http(std::nullopt, fmt::format("GET http://{}:{}/dl: {}", ip(), access().web_port, d.error), now);
}

std::optional<std::string> backup_refusal(JobStore& jobs, const inventory::DeviceRecord& d, std::int64_t now_ms) {
  if (auto held = held_by_upgrade_job(jobs, d.mac)) return *held;
  if (!d.topic || !d.version || !planner::Version::parse(*d.version)) return "the inventory does not know its topic and version yet";
  if (!d.online) return fmt::format("offline (last seen by the inventory {} s ago)", (now_ms - d.last_seen_ms) / 1000);
  return std::nullopt;
}

}  // namespace fleet::orchestrator
