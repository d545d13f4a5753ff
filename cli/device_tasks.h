#pragma once
// Runs device jobs (backup, restore) from the command line: one broker connection of its own (a client
// id of its own, so the daemon stays connected), the devices' replies routed to their job, HTTP to the
// devices' web servers on worker threads, at most `parallel` devices at once.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backup/backup_job.h"
#include "firmware/downloader.h"
#include "mqtt/broker_config.h"
#include "mqtt/topic_scheme.h"

namespace fleet::cli {

// How to reach the devices themselves (not the broker): their own MqttPassword for file transfers and
// their web server's credentials. Fleet-wide from options; per device from --device-credentials.
struct DeviceAccess {
  std::string mqtt_password;
  std::string web_user = "admin";
  std::string web_password;
  int web_port = 80;
};

// One device's job as the runner drives it. The device's address and access, and the reason the run
// gave up on it, are common to every job; the job-specific part is the virtual interface.
class DeviceTask {
 public:
  DeviceTask(std::string ip, DeviceAccess access) : ip_(std::move(ip)), access_(std::move(access)) {}
  virtual ~DeviceTask() = default;
  virtual std::string device_topic() const = 0;  // where its commands go now
  // Every topic the device may answer on during the job (a restore can change it).
  virtual std::vector<std::string> topics() const { return {device_topic()}; }
  virtual std::vector<backup::DeviceAction> start(std::int64_t now_ms) = 0;
  virtual std::vector<backup::DeviceAction> on_message(mqtt::Prefix prefix, std::string_view suffix, std::string_view payload,
                                                       std::int64_t now_ms) = 0;
  virtual std::vector<backup::DeviceAction> on_http(const firmware::Download& result, std::int64_t now_ms) = 0;
  virtual std::vector<backup::DeviceAction> on_time(std::int64_t now_ms) = 0;
  virtual bool finished() const = 0;

  const std::string& ip() const { return ip_; }
  const DeviceAccess& access() const { return access_; }
  // The run is over for this device (broker unreachable, overall timeout): why.
  void give_up(const std::string& why) { gave_up_ = why; }
  const std::string& gave_up() const { return gave_up_; }

 private:
  std::string ip_;
  DeviceAccess access_;
  std::string gave_up_;
};

struct TaskRunOptions {
  mqtt::BrokerConfig broker;
  mqtt::TopicScheme scheme;
  int parallel = 8;
  std::int64_t overall_timeout_ms = 600'000;
  std::int64_t connect_timeout_ms = 10'000;  // no broker session by then: give up, saying so
};

void run_device_tasks(const TaskRunOptions& options, std::vector<std::unique_ptr<DeviceTask>>& tasks);

}  // namespace fleet::cli
