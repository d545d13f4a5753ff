#pragma once
// What a Tasmota firmware does with the settings it finds at boot after an upgrade or a restore of an
// older file, for the fields this project decodes (tasmota-facts.md, "Configuration backup and
// restore"; Tasmota settings.ino SettingsDelta):
// - every field keeps its value under its name in the new layout (the settings-delta code moves them);
// - ESP8266 crossing 9.1: module GPIOs and the template are renumbered (gpio_numbering.h);
// - ESP8266 booting 9.1 or later on settings older than 8.0 (an uploaded old file, or an upgrade that
//   skipped the 8.x checkpoint): only Wi-Fi and MQTT come back (tasmota-facts.md; the guidance
//   "so the file handed to 9.1+ is at least 8.x" places the limit at 9.1).
// The simulator plays it; restore verification uses it to know what to expect.
#include "backup/dmp_file.h"
#include "backup/settings_layouts.h"

namespace fleet::backup {

// An empty settings image of a version and platform, sealed (what a fresh flash holds, as far as the
// decoded fields go: zeros and the header).
DmpFile blank_settings(const planner::Version& version, std::uint8_t platform, const SettingsLayouts& layouts = SettingsLayouts::builtin());

// Firmware: what the firmware does with these settings at boot (limits included). Translate: every
// field carried over by name and renumbered, to generate commands for a replay.
enum class Migration { Firmware, Translate };

// The settings `from` becomes on a device of `to_version` (same platform), sealed.
DmpFile migrate_settings(const DmpFile& from, const planner::Version& to_version, Migration kind = Migration::Firmware,
                         const SettingsLayouts& layouts = SettingsLayouts::builtin());

// Whether the 9.1 GPIO renumbering applies between these versions on this platform.
bool crosses_gpio_renumbering(const planner::Version& from, const planner::Version& to, std::uint8_t platform);

}  // namespace fleet::backup
