#pragma once
// The executor of one UpgradeJob's effects: state writes and backups are carried out at once against
// the job store and the backup store; device actions go to the job runner. A Persist is committed
// before anything after it is executed or handed out, and a PersistThenSend's state before its command:
// that is what makes Reset 6, Upgrade 1 and a settings upload safe to resume.
#include <functional>
#include <memory>

#include "backup/backup_store.h"
#include "orchestrator/device_job.h"
#include "orchestrator/job_store.h"
#include "orchestrator/upgrade_job.h"

namespace fleet::orchestrator {

class UpgradeDeviceJob final : public DeviceJob {
 public:
  UpgradeDeviceJob(std::string mac, std::string ip, DeviceAccess access, std::unique_ptr<UpgradeJob> job, std::int64_t job_id,
                   JobStore& jobs, backup::BackupStore& backups);

  std::string device_topic() const override { return job_->command_topic(); }
  std::vector<backup::DeviceAction> start(std::int64_t now) override;
  std::vector<backup::DeviceAction> on_message(mqtt::Prefix prefix, std::string_view suffix, std::string_view payload, std::int64_t now) override;
  std::vector<backup::DeviceAction> on_http(const firmware::Download& d, std::int64_t now) override;
  std::vector<backup::DeviceAction> on_time(std::int64_t now) override;
  std::optional<std::int64_t> wake_at_ms() const override { return job_->wake_at_ms(); }
  std::vector<backup::DeviceAction> on_broker_back(std::int64_t now, std::int64_t outage_ms) override;
  bool finished() const override { return job_->finished(); }
  void request_stop() override { job_->request_stop(); }
  std::string progress() const override { return job_->current_step(); }
  std::uint64_t progress_key() const override { return job_->step_key(); }

  std::int64_t job_id() const { return job_id_; }
  const UpgradeJob& job() const { return *job_; }
  // Each event as it happens (the command line prints them; the daemon logs them).
  std::function<void(const std::string& event)> on_event;

 private:
  std::vector<backup::DeviceAction> drain(JobEffects effects, std::int64_t now);
  void report(std::int64_t now);

  std::unique_ptr<UpgradeJob> job_;
  std::int64_t job_id_;
  JobStore& jobs_;
  backup::BackupStore& backups_;
};

}  // namespace fleet::orchestrator
