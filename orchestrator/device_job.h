#pragma once
// One device's job as the job runner drives it (a backup, a restore, an upgrade). The device's address
// and access, and the reason the runner gave up on it, are common to every job; what the job does is
// the virtual interface. Jobs are event-driven: the runner hands them replies, HTTP results and time.
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backup/backup_job.h"
#include "firmware/downloader.h"
#include "inventory/device_record.h"
#include "mqtt/topic_scheme.h"

namespace fleet::orchestrator {

// How to reach the devices themselves (not the broker): their own MqttPassword for file transfers and
// their web server's credentials. Fleet-wide from options; per device from --device-credentials.
struct DeviceAccess {
  std::string mqtt_password;
  std::string web_user = "admin";
  std::string web_password;
  int web_port = 80;
};

class DeviceJob {
 public:
  DeviceJob(std::string mac, std::string ip, DeviceAccess access)
      : mac_(std::move(mac)), ip_(std::move(ip)), access_(std::move(access)) {}
  virtual ~DeviceJob() = default;
  virtual std::string device_topic() const = 0;  // where its commands go now
  // Every topic the device may answer on during the job (a restore can change it).
  virtual std::vector<std::string> topics() const { return {device_topic()}; }
  virtual std::vector<backup::DeviceAction> start(std::int64_t now_ms) = 0;
  virtual std::vector<backup::DeviceAction> on_message(mqtt::Prefix prefix, std::string_view suffix, std::string_view payload,
                                                       std::int64_t now_ms) = 0;
  virtual std::vector<backup::DeviceAction> on_http(const firmware::Download& result, std::int64_t now_ms) = 0;
  virtual std::vector<backup::DeviceAction> on_time(std::int64_t now_ms) = 0;
  // The earliest job time at which on_time() may do anything (nullopt: nothing is timed until the next
  // message or answer). Read again after every call into the job. The default asks on every loop turn.
  virtual std::optional<std::int64_t> wake_at_ms() const { return std::numeric_limits<std::int64_t>::min(); }
  // The broker session is back after `outage_ms` away: what was published to us meanwhile is lost.
  virtual std::vector<backup::DeviceAction> on_broker_back(std::int64_t /*now_ms*/, std::int64_t /*outage_ms*/) { return {}; }
  virtual bool finished() const = 0;
  // Asked to stop at its next safe point (pause, abort); a job without one finishes as it would.
  virtual void request_stop() {}
  // Where the job is, in words ("hop 1/2 (8.5.1): Upgrade"); a reply that changes it moved the job.
  virtual std::string progress() const { return {}; }
  // Changes when progress() does; cheap (the runner compares it around every reply).
  virtual std::uint64_t progress_key() const { return std::hash<std::string>{}(progress()); }

  const std::string& mac() const { return mac_; }
  const std::string& ip() const { return ip_; }
  const DeviceAccess& access() const { return access_; }
  // The device's own fallback topics ("DVES_ABCDEF_fb"), where it has them: its commands go there and
  // nowhere a second device on its Topic would hear them. Empty: commands go to its Topic.
  void set_fallbacks(std::vector<std::string> fallbacks) { fallbacks_ = std::move(fallbacks); }
  const std::vector<std::string>& fallbacks() const { return fallbacks_; }
  // The run is over for this device (broker unreachable, overall timeout): why.
  void give_up(const std::string& why) { gave_up_ = why; }
  const std::string& gave_up() const { return gave_up_; }
  bool over() const { return finished() || !gave_up_.empty(); }

 private:
  std::string mac_;
  std::string ip_;
  DeviceAccess access_;
  std::vector<std::string> fallbacks_;
  std::string gave_up_;
};

// Where a device's job sends its commands: its MqttClient's fallback topic, and the default MqttClient's
// for after a Reset 6 (which puts MqttClient back); empty when its firmware has no usable fallback topic.
std::vector<std::string> fallbacks_for(const inventory::DeviceRecord& device);

}  // namespace fleet::orchestrator
