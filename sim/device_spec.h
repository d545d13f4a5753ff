#pragma once
// What a simulated device is: its firmware, hardware and the settings it keeps in flash.
#include <array>
#include <cstdint>
#include <string>

#include "sim/faults.h"

namespace fleet::sim {

// The settings a device keeps across restarts; Reset 6 returns all but Wi-Fi and MQTT to defaults.
struct DeviceSettings {
  std::string topic;
  std::string full_topic = "%prefix%/%topic%/";
  std::array<std::string, 3> prefixes = {"cmnd", "stat", "tele"};
  std::string group_topic;  // empty: the firmware's default
  std::array<std::string, 4> friendly_names = {"Tasmota", "", "", ""};
  std::string hostname;     // empty: the firmware's default (topic-derived)
  int module_id = 18;       // Generic
  std::string template_json;
  std::array<std::string, 3> rules;
  bool timers_enabled = true;
  int tele_period = 300;
  bool set_option4 = false;
  std::string ota_url;      // empty: the firmware's default
  int webserver = 2;        // WebServer mode: 0 off, 1 user, 2 admin (/dl and /u2 need admin); Tasmota's default 2
  std::string web_password; // empty: no basic auth on the web server
  // Kept by Reset 6 (tasmota-facts.md: SSIDs/passwords, MQTT host, port, user, password, topic).
  std::string ssid1 = "fleet-wifi";
  std::string mqtt_host = "127.0.0.1";
  int mqtt_port = 1883;
  std::string mqtt_user;
  std::string mqtt_password;  // the device's MqttPassword: FileDownload/FileUpload must quote it
  std::string mqtt_client;  // empty: DVES_XXXXXX

  bool operator==(const DeviceSettings&) const = default;
};

struct DeviceSpec {
  std::string version = "15.0.1";
  std::string build = "tasmota";  // code image: tasmota, sensors, lite, minimal, tasmota32, sonoff …
  std::string chip = "ESP8266";   // ESP8266, ESP8285, ESP32, ESP32-S3, ESP32-C3 …
  int flash_kb = 4096;
  int program_flash_kb = 1024;
  int program_kb = 620;
  int free_kb = 380;
  std::string mac;  // "AA:BB:CC:DD:EE:FF"
  std::string ip;
  std::string module_name = "Generic";
  std::uint32_t boot_count = 1;
  bool power = false;  // the relay at start: ON when true
  // Relays the module provides (TasmotaGlobal.devices_present): what Interlock groups and Timer
  // outputs may name. The simulator does not derive it from the GPIOs.
  int relays = 1;
  std::string restart_reason = "Power On";
  DeviceSettings settings;
  Faults faults;
};

}  // namespace fleet::sim
