#pragma once
// A simulated device's settings as the .dmp its firmware version writes (same layout, obfuscation and
// checksums, through backup/), and back. Fields the simulator does not model (flags, timers, GPIOs of a
// restored file …) live in `stored`: the last file it took, migrated to its running version, so they
// survive a download after an upload and an upgrade, and are lost by Reset 6, as on a device.
#include <optional>

#include "backup/dmp_file.h"
#include "planner/version.h"
#include "sim/device_spec.h"

namespace fleet::sim {

// The device's settings file for `version` (what /dl and FileDownload hand out).
backup::DmpFile settings_file(const DeviceSpec& spec, const planner::Version& version, const std::optional<backup::DmpFile>& stored);

// Takes what the simulator models from a settings file of the device's own version (after the
// firmware's migration): topics, names, module, template, rules, telemetry, OTA and web settings.
void settings_from_file(const backup::DmpFile& file, DeviceSettings& settings);

// The firmware's OTA_URL, what the device's OtaUrl is until one is set (and after `OtaUrl 1`).
std::string default_ota_url(const DeviceSpec& spec);

// The chip's platform byte (ESP8266 when the chip is unknown).
std::uint8_t platform_of_spec(const DeviceSpec& spec);

}  // namespace fleet::sim
