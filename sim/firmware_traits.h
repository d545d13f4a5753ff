#pragma once
// How the firmware a simulated device pretends to run shapes its messages. Each boundary cites what
// it rests on; where the exact release is not pinned down by a source, the comment says so and the
// inventory parser accepts both shapes whatever the version (docs/tasmota-payloads.md).
#include <string>

#include "planner/version.h"

namespace fleet::sim {

struct FirmwareTraits {
  // {"Info1":{…}} instead of the bare object. Bare in an 8.1.0.2 capture, wrapped in a 9.5.0
  // capture (public device logs); 9.1.0 is assumed as the first wrapped release.
  bool info_wrapped;
  // INFO3 carries BootCount: absent in a 9.5.0 capture, present in 13.4.0.1; assumed from 10.0.0.
  bool info3_boot_count;
  // Status 0 answered as one STATUS0 message (support_command.ino CmndStatusResponse concatenates
  // all parts); older firmware published STATUS, STATUS1…STATUS11 one by one. Assumed from 8.5.0
  // (8.5.1's changelog fixes the single "status 0 message" overflowing the log buffer).
  bool status0_combined;
  // FriendlyName as an array in Status (multiple friendly names arrived with 6.x); a string before.
  bool friendly_name_array;
  // Uptime "1T02:33:26" (6.x on) instead of "1 02:33:26" (5.x docs sample).
  bool uptime_t_format;
  // UptimeSec and Wifi.Signal (dBm) in STATE/StatusSTS: assumed from 7.0.0.
  bool uptime_sec;
  // StatusFWR.Hardware names the chip: assumed from 8.2.0 (ESP32 support era).
  bool hardware_field;
  // The version string carries the build in parentheses from 6.x ("6.7.1(sonoff)"); 5.x had none.
  bool build_in_version;
  // Official release builds say "(release-<image>)" ("12.5.0(release-sensors)"): assumed from 12.0.0.
  bool release_marker;
  // FallbackTopic "cmnd/<MqttClient>_fb/" (GetTopic_P appends "_fb" from 6.4.1, #1528); before it the bare
  // MqttClient, announced in INFO1 as just "DVES_XXXXXX".
  bool fallback_fb;
  // Default group topic "cmnd/tasmotas/" (8.x captures) vs "sonoffs" forms before.
  std::string default_group_topic;

  static FirmwareTraits of(const planner::Version& v);
};

inline FirmwareTraits FirmwareTraits::of(const planner::Version& v) {
  using planner::Version;
  FirmwareTraits t{};
  t.info_wrapped = v >= Version{9, 1, 0, 0};
  t.info3_boot_count = v >= Version{10, 0, 0, 0};
  t.status0_combined = v >= Version{8, 5, 0, 0};
  t.friendly_name_array = v >= Version{6, 0, 0, 0};
  t.uptime_t_format = v >= Version{6, 0, 0, 0};
  t.uptime_sec = v >= Version{7, 0, 0, 0};
  t.hardware_field = v >= Version{8, 2, 0, 0};
  t.build_in_version = v >= Version{6, 0, 0, 0};
  t.fallback_fb = v >= Version{6, 4, 1, 0};
  t.release_marker = v >= Version{12, 0, 0, 0} && v.is_release();
  t.default_group_topic = v >= Version{8, 2, 0, 0} ? "cmnd/tasmotas/" : v >= Version{7, 0, 0, 0} ? "cmnd/sonoffs/" : "sonoffs";
  return t;
}

}  // namespace fleet::sim
