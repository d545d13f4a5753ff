#pragma once
// A RestoreJob as the job runner drives it: replies on the device's topic, or on the one the restored
// settings give it, and the /u2 upload.
#include "backup/restore_job.h"
#include "orchestrator/device_job.h"

namespace fleet::orchestrator {

class RestoreDeviceJob final : public DeviceJob {
 public:
  RestoreDeviceJob(std::string mac, std::string ip, DeviceAccess access, backup::RestoreJob& job)
      : DeviceJob(std::move(mac), std::move(ip), std::move(access)), job_(job) {}
  std::string device_topic() const override { return job_.command_topic(); }
  std::vector<std::string> topics() const override {
    std::vector<std::string> t{job_.command_topic()};
    if (job_.final_topic() != t[0]) t.push_back(job_.final_topic());
    return t;
  }
  std::vector<backup::DeviceAction> start(std::int64_t now) override { return job_.start(now); }
  std::vector<backup::DeviceAction> on_message(mqtt::Prefix prefix, std::string_view suffix, std::string_view payload,
                                               std::int64_t now) override {
    if (prefix == mqtt::Prefix::Command) return {};
    return job_.on_message(prefix == mqtt::Prefix::Tele, suffix, payload, now);
  }
  std::vector<backup::DeviceAction> on_http(const firmware::Download& d, std::int64_t now) override {
    if (d.ok) return job_.on_http(static_cast<int>(d.http_status), d.bytes, "", now);
    return job_.on_http(static_cast<int>(d.http_status), std::nullopt, d.error, now);
  }
  std::vector<backup::DeviceAction> on_time(std::int64_t now) override { return job_.on_time(now); }
  std::optional<std::int64_t> wake_at_ms() const override { return job_.wake_at_ms(); }
  bool finished() const override { return job_.finished(); }

 private:
  backup::RestoreJob& job_;
};

}  // namespace fleet::orchestrator
