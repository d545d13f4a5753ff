#pragma once
// What a Tasmota firmware does with the settings it finds at boot after an upgrade or a restore of an
// older file, for the fields this project decodes (tasmota-facts.md, "Configuration backup and
// restore"; Tasmota settings.ino SettingsDelta):
// - every field keeps its value under its name in the new layout (the settings-delta code moves them);
// - ESP8266 crossing 9.1: module GPIOs and the template are renumbered (gpio_numbering.h);
// - ESP8266 restoring a file older than 8.0: only Wi-Fi and MQTT come back.
// The simulator plays it; restore verification uses it to know what to expect.
#include "backup/dmp_file.h"
#include "backup/settings_layouts.h"

namespace fleet::backup {

// An empty settings image of a version and platform, sealed (what a fresh flash holds, as far as the
// decoded fields go: zeros and the header).
DmpFile blank_settings(const planner::Version& version, std::uint8_t platform, const SettingsLayouts& layouts = SettingsLayouts::builtin());

// Upgrade: the firmware boots a newer version over its own settings. Restore: it takes an uploaded file
// (the pre-8.0 ESP8266 limit applies only there).
enum class Migration { Upgrade, Restore };

// The settings `from` becomes on a device of `to_version` (same platform), sealed.
DmpFile migrate_settings(const DmpFile& from, const planner::Version& to_version, Migration kind = Migration::Restore,
                         const SettingsLayouts& layouts = SettingsLayouts::builtin());

// Whether the 9.1 GPIO renumbering applies between these versions on this platform.
bool crosses_gpio_renumbering(const planner::Version& from, const planner::Version& to, std::uint8_t platform);

}  // namespace fleet::backup
