#pragma once
// What `serve --metrics-listen` exposes, as a snapshot taken on the event loop, and its rendering in
// Prometheus' text exposition format (version 0.0.4: `# HELP`, `# TYPE`, then `name{label="value"} number`
// lines; label values escape backslash, double quote and newline).
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace fleet::orchestrator {

struct MetricsSnapshot {
  // Devices of the inventory by (version, chip, online); unknown ones as "unknown".
  std::map<std::tuple<std::string, std::string, bool>, std::int64_t> devices;
  std::map<std::string, std::int64_t> jobs_by_status;
  std::map<std::string, std::int64_t> rollouts_by_status;
  std::uint64_t commands_sent = 0;     // MQTT commands device jobs sent (each topic counted once)
  std::uint64_t messages_in = 0;       // MQTT messages handed to the inventory
  std::uint64_t payloads_refused = 0;  // refused whole: not JSON, wrong shape, over --max-payload
  std::uint64_t ota_bytes_sent = 0;
  std::map<std::string, std::uint64_t> downloads_by_outcome;  // complete, incomplete, refused
  struct BackupAge {
    std::string mac, topic;
    double seconds = 0;
  };
  std::vector<BackupAge> backup_age;  // devices with at least one backup
  bool broker_connected = false;
  bool database_writable = false;
};

std::string render_prometheus(const MetricsSnapshot& m);

// The outcome label of one OTA download: complete, incomplete (200 but cut short) or refused (4xx/5xx).
std::string download_outcome(int http_status, bool completed);

}  // namespace fleet::orchestrator
