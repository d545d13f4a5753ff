// The Prometheus text exposition format as the daemon renders it (format 0.0.4, prometheus.io
// "Exposition formats": a `# HELP` and a `# TYPE` line per family before its samples; label values
// escape backslash, double quote and line feed).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "orchestrator/metrics.h"

using fleet::orchestrator::download_outcome;
using fleet::orchestrator::MetricsSnapshot;
using fleet::orchestrator::render_prometheus;

namespace {
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}
}  // namespace

TEST(Metrics, EverySampleFollowsItsFamilysHelpAndType) {
  MetricsSnapshot m;
  m.devices[{"9.1.0", "ESP8266", true}] = 2;
  m.devices[{"15.0.1", "ESP32-C3", false}] = 1;
  m.jobs_by_status = {{"done", 3}, {"failed", 1}};
  m.rollouts_by_status = {{"running", 1}};
  m.commands_sent = 35;
  m.messages_in = 1234;
  m.payloads_refused = 2;
  m.ota_bytes_sent = 318749;
  m.downloads_by_outcome = {{"complete", 1}};
  m.backup_age = {{"5C:CF:7F:00:05:00", "kitchen", 12.5}};
  m.broker_connected = true;
  auto text = render_prometheus(m);
  auto lines = lines_of(text);
  std::set<std::string> typed;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& l = lines[i];
    if (l.rfind("# TYPE ", 0) == 0) {
      ASSERT_GT(i, 0u);
      auto name = l.substr(7, l.find(' ', 7) - 7);
      EXPECT_EQ(0u, lines[i - 1].rfind("# HELP " + name + " ", 0)) << lines[i - 1];
      typed.insert(name);
      continue;
    }
    if (l.rfind("# ", 0) == 0) continue;
    auto name = l.substr(0, l.find_first_of("{ "));
    EXPECT_TRUE(typed.count(name)) << "sample before its # TYPE: " << l;
  }
  for (auto want : {R"(tasmota_fleet_devices{version="9.1.0",chip="ESP8266",online="true"} 2)",
                    R"(tasmota_fleet_devices{version="15.0.1",chip="ESP32-C3",online="false"} 1)",
                    R"(tasmota_fleet_device_jobs{status="done"} 3)", R"(tasmota_fleet_device_jobs{status="failed"} 1)",
                    R"(tasmota_fleet_rollouts{status="running"} 1)", "tasmota_fleet_commands_sent_total 35",
                    "tasmota_fleet_mqtt_messages_received_total 1234", "tasmota_fleet_payloads_refused_total 2",
                    "tasmota_fleet_ota_bytes_sent_total 318749", R"(tasmota_fleet_ota_downloads_total{outcome="complete"} 1)",
                    R"(tasmota_fleet_ota_downloads_total{outcome="incomplete"} 0)", R"(tasmota_fleet_ota_downloads_total{outcome="refused"} 0)",
                    R"(tasmota_fleet_backup_age_seconds{mac="5C:CF:7F:00:05:00",topic="kitchen"} 12.500)",
                    "tasmota_fleet_broker_connected 1", "tasmota_fleet_database_writable 0"})
    EXPECT_NE(std::find(lines.begin(), lines.end(), want), lines.end()) << want << "\n" << text;
  auto at = std::find(lines.begin(), lines.end(), "tasmota_fleet_commands_sent_total 35");
  ASSERT_NE(at, lines.begin());
  EXPECT_EQ("# TYPE tasmota_fleet_commands_sent_total counter", *(at - 1));
}

TEST(Metrics, LabelValuesFromDevicesAreEscaped) {
  // A topic is whatever the device's owner typed: quotes, backslashes and line feeds must not break the page.
  MetricsSnapshot m;
  m.backup_age = {{"AA", "a\"b\\c\nd", 1}};
  auto text = render_prometheus(m);
  EXPECT_NE(std::string::npos, text.find(R"(tasmota_fleet_backup_age_seconds{mac="AA",topic="a\"b\\c\nd"} 1.000)")) << text;
  for (auto& l : lines_of(text)) EXPECT_TRUE(l.empty() || l[0] == '#' || l.rfind("tasmota_fleet_", 0) == 0) << l;
}

TEST(Metrics, DownloadOutcomes) {
  EXPECT_EQ("complete", download_outcome(200, true));
  EXPECT_EQ("incomplete", download_outcome(200, false));
  EXPECT_EQ("refused", download_outcome(404, false));
  EXPECT_EQ("refused", download_outcome(500, false));
}
