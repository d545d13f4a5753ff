#pragma once
// Tasmota firmware versions as the devices report them.
//
// Release versions have three parts (9.1.0), development versions a fourth (9.1.0.2). Old releases
// (5.x) marked development versions with a letter instead: 5.12.0a is the first one after 5.12.0, so
// the letter becomes the fourth part. Every part fits one byte, as in the settings file (0x0F000100 is
// 15.0.1), so anything larger is rejected as not a Tasmota version.
#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace fleet::planner {

struct Version {
  int major = 0;
  int minor = 0;
  int patch = 0;
  int sub = 0;  // development build number; 0 for a release

  static std::optional<Version> parse(std::string_view text);
  bool is_release() const { return sub == 0; }
  std::string str() const;  // "9.1.0", "9.1.0.2"
  friend auto operator<=>(const Version&, const Version&) = default;
};

// "9.1.0(tasmota)", "12.5.0(release-sensors)", "8.1.0.2(1e06976-tasmota)", "5.14.0".
struct FirmwareVersion {
  Version version;
  std::string build;      // normalized code image name: "tasmota", "sensors", "lite", "tasmota32", …
  std::string raw_build;  // exactly what was inside the parentheses

  static std::optional<FirmwareVersion> parse(std::string_view text);
  bool is_minimal() const;
  bool is_safeboot() const;  // the ESP32 safeboot image ("15.0.1(safeboot)", "(release-safeboot)")
  std::string str() const;  // "9.1.0(tasmota)"
};

// Strips what is not part of the image name: the "release-" marker of official release builds and
// the git hash of self-compiled ones ("1e06976-tasmota" → "tasmota").
std::string normalize_build(std::string_view raw);

}  // namespace fleet::planner
