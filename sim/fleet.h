#pragma once
// A simulated fleet: from a fleet file (JSON, docs/simulator.md) or generated from a mix of versions.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/device_spec.h"

namespace fleet::sim {

// {"defaults": {…}, "devices": [{"version": "9.1.0", "build": "tasmota", "chip": "ESP8266",
//   "topic": "kitchen", "mac": "…", "free_kb": 380, "settings": {"friendly_name": "Kitchen", …}}, …]}
// Throws std::runtime_error naming the device and the field for anything it cannot use.
std::vector<DeviceSpec> load_fleet_file(const std::string& path);
std::vector<DeviceSpec> parse_fleet(const std::string& json_text);

// `count` devices cycling through `versions` ("9.1.0", "8.5.1", "14.2.0:tasmota32:ESP32", …: version,
// optional build and chip), with unique MACs derived from `seed` and loopback IPs. An empty list uses
// a mixed default spanning 5.14 to 15.x.
std::vector<DeviceSpec> generate_fleet(std::size_t count, std::uint32_t seed, const std::vector<std::string>& versions);

}  // namespace fleet::sim
