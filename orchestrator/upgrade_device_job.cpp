#include "orchestrator/upgrade_device_job.h"

#include <fmt/format.h>

#include <type_traits>

namespace fleet::orchestrator {

UpgradeDeviceJob::UpgradeDeviceJob(std::string mac, std::string ip, DeviceAccess access, std::unique_ptr<UpgradeJob> job,
                                   std::int64_t job_id, JobStore& jobs, backup::BackupStore& backups)
    : DeviceJob(std::move(mac), std::move(ip), std::move(access)), job_(std::move(job)), job_id_(job_id), jobs_(jobs), backups_(backups) {}

std::vector<backup::DeviceAction> UpgradeDeviceJob::start(std::int64_t now) { return drain(job_->start(now), now); }

std::vector<backup::DeviceAction> UpgradeDeviceJob::on_message(mqtt::Prefix prefix, std::string_view suffix, std::string_view payload,
                                                               std::int64_t now) {
  if (prefix == mqtt::Prefix::Command) return {};
  return drain(job_->on_message(prefix == mqtt::Prefix::Tele, suffix, payload, now), now);
}

std::vector<backup::DeviceAction> UpgradeDeviceJob::on_http(const firmware::Download& d, std::int64_t now) {
  if (d.ok) return drain(job_->on_http(static_cast<int>(d.http_status), d.bytes, "", now), now);
  return drain(job_->on_http(static_cast<int>(d.http_status), std::nullopt, d.error, now), now);
}

std::vector<backup::DeviceAction> UpgradeDeviceJob::on_time(std::int64_t now) { return drain(job_->on_time(now), now); }
std::vector<backup::DeviceAction> UpgradeDeviceJob::on_broker_back(std::int64_t now, std::int64_t outage_ms) {
  return drain(job_->on_broker_back(now, outage_ms), now);
}

std::vector<backup::DeviceAction> UpgradeDeviceJob::drain(JobEffects effects, std::int64_t now) {
  std::vector<backup::DeviceAction> out;
  while (!effects.empty()) {
    auto e = std::move(effects.front());
    effects.erase(effects.begin());
    JobEffects more;
    std::visit(
        [&](auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, effect::Persist>) {
            jobs_.save(job_id_, x.state.to_json().dump(), x.state.status, now);
          } else if constexpr (std::is_same_v<T, effect::PersistThenSend>) {
            // Committed before the command is handed out: a resumed job then knows it may have gone out.
            jobs_.save(job_id_, x.state().to_json().dump(), x.state().status, now);
            out.push_back(x.command());
          } else if constexpr (std::is_same_v<T, effect::Send>) {
            out.push_back(x.action());
          } else if constexpr (std::is_same_v<T, effect::StoreBackup>) {
            auto record = x.record;
            record.pinned_by = fmt::format("upgrade-job-{}", job_id_);  // never pruned while the job needs it
            more = job_->on_backup_stored(backups_.add(record), now);
          } else if constexpr (std::is_same_v<T, effect::LoadBackup>) {
            auto r = backups_.get(x.backup_id);
            if (x.whole) more = job_->on_backup_record_loaded(std::move(r), now);
            else more = job_->on_backup_loaded(r ? std::optional(r->dmp) : std::nullopt, now);
          } else {
            static_assert(std::is_same_v<T, effect::Finished>);
          }
        },
        e);
    effects.insert(effects.end(), more.begin(), more.end());
    report(now);
  }
  report(now);
  if (job_->state().status == "done") {
    // The job's backups may be pruned by retention from now on.
    for (auto& b : backups_.list(mac()))
      if (b.pinned_by == fmt::format("upgrade-job-{}", job_id_)) backups_.pin(b.id, std::nullopt);
  }
  return out;
}

void UpgradeDeviceJob::report(std::int64_t now) {
  auto events = job_->take_events();
  if (events.empty()) return;
  if (on_event)
    for (auto& e : events) on_event(e);
  jobs_.add_events(job_id_, events, now);
}

}  // namespace fleet::orchestrator
