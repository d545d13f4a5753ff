#include "orchestrator/metrics.h"

#include <fmt/format.h>

namespace fleet::orchestrator {
namespace {

std::string escaped(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

struct Writer {
  std::string out;
  void family(const char* name, const char* type, const char* help) { out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type); }
  template <typename V>
  void sample(const char* name, const std::vector<std::pair<const char*, std::string>>& labels, V value) {
    out += name;
    if (!labels.empty()) {
      out += '{';
      for (std::size_t i = 0; i < labels.size(); ++i)
        out += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first, escaped(labels[i].second));
      out += '}';
    }
    out += fmt::format(" {}\n", value);
  }
};

}  // namespace

std::string download_outcome(int http_status, bool completed) {
  if (http_status == 200) return completed ? "complete" : "incomplete";
  return "refused";
}

std::string render_prometheus(const MetricsSnapshot& m) {
  Writer w;
  w.family("tasmota_fleet_devices", "gauge", "Devices in the inventory by firmware version, chip and online state.");
  for (const auto& [key, n] : m.devices) {
    const auto& [version, chip, online] = key;
    w.sample("tasmota_fleet_devices", {{"version", version}, {"chip", chip}, {"online", online ? "true" : "false"}}, n);
  }
  w.family("tasmota_fleet_device_jobs", "gauge", "Upgrade jobs by status.");
  for (const auto& [status, n] : m.jobs_by_status) w.sample("tasmota_fleet_device_jobs", {{"status", status}}, n);
  w.family("tasmota_fleet_rollouts", "gauge", "Rollouts by status.");
  for (const auto& [status, n] : m.rollouts_by_status) w.sample("tasmota_fleet_rollouts", {{"status", status}}, n);
  w.family("tasmota_fleet_commands_sent_total", "counter", "MQTT commands sent to devices by device jobs.");
  w.sample("tasmota_fleet_commands_sent_total", {}, m.commands_sent);
  w.family("tasmota_fleet_mqtt_messages_received_total", "counter", "MQTT messages received from the broker.");
  w.sample("tasmota_fleet_mqtt_messages_received_total", {}, m.messages_in);
  w.family("tasmota_fleet_payloads_refused_total", "counter", "MQTT payloads refused whole (not JSON, wrong shape, too large).");
  w.sample("tasmota_fleet_payloads_refused_total", {}, m.payloads_refused);
  w.family("tasmota_fleet_ota_bytes_sent_total", "counter", "Bytes of firmware images the built-in OTA server sent.");
  w.sample("tasmota_fleet_ota_bytes_sent_total", {}, m.ota_bytes_sent);
  w.family("tasmota_fleet_ota_downloads_total", "counter", "Downloads from the built-in OTA server by outcome.");
  for (const char* outcome : {"complete", "incomplete", "refused"}) {
    auto it = m.downloads_by_outcome.find(outcome);
    w.sample("tasmota_fleet_ota_downloads_total", {{"outcome", outcome}}, it == m.downloads_by_outcome.end() ? 0 : it->second);
  }
  w.family("tasmota_fleet_backup_age_seconds", "gauge", "Age of each device's newest backup.");
  for (const auto& b : m.backup_age) w.sample("tasmota_fleet_backup_age_seconds", {{"mac", b.mac}, {"topic", b.topic}}, fmt::format("{:.3f}", b.seconds));
  w.family("tasmota_fleet_broker_connected", "gauge", "1 while the broker session is up.");
  w.sample("tasmota_fleet_broker_connected", {}, m.broker_connected ? 1 : 0);
  w.family("tasmota_fleet_database_writable", "gauge", "1 while the last database commit succeeded.");
  w.sample("tasmota_fleet_database_writable", {}, m.database_writable ? 1 : 0);
  return w.out;
}

}  // namespace fleet::orchestrator
