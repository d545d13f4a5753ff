#pragma once
// A BackupJob as the job runner drives it: the device's stat replies and its /dl download.
#include <optional>
#include <string>

#include "backup/backup_job.h"
#include "inventory/device_record.h"
#include "orchestrator/device_job.h"
#include "orchestrator/job_store.h"

namespace fleet::orchestrator {

class BackupDeviceJob final : public DeviceJob {
 public:
  BackupDeviceJob(inventory::DeviceRecord device, DeviceAccess access, backup::BackupSettings settings);

  std::string device_topic() const override { return device_.topic.value_or(""); }
  std::vector<backup::DeviceAction> start(std::int64_t now) override { return job_.start(now); }
  std::vector<backup::DeviceAction> on_message(mqtt::Prefix prefix, std::string_view suffix, std::string_view payload,
                                               std::int64_t now) override;
  std::vector<backup::DeviceAction> on_http(const firmware::Download& d, std::int64_t now) override;
  std::vector<backup::DeviceAction> on_time(std::int64_t now) override { return job_.on_time(now); }
  std::optional<std::int64_t> wake_at_ms() const override { return job_.wake_at_ms(); }
  bool finished() const override { return job_.finished(); }

  const inventory::DeviceRecord& device() const { return device_; }
  const backup::BackupJob& job() const { return job_; }

 private:
  inventory::DeviceRecord device_;
  backup::BackupJob job_;
};

// Why this device cannot be asked for its settings now, if so: held by an upgrade job (this process's
// or another's: a FileDownload between its Reset 6 and its restore would take blank settings for a
// backup), its topic or version not known yet, or offline.
std::optional<std::string> backup_refusal(JobStore& jobs, const inventory::DeviceRecord& device, std::int64_t now_ms);

}  // namespace fleet::orchestrator
