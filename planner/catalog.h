#pragma once
// The firmware catalog: the checkpoint versions every old device must step through, the releases a
// device can be taken to, and which images exist for which chip. Data, not code: planner/catalog.json
// is built in, a local file adds releases or aliases without rebuilding (docs/planner.md).
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "planner/chip.h"
#include "planner/version.h"

namespace fleet::planner {

struct CatalogError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Checkpoint {
  Version version;
  std::string build;        // the image the guide names for this hop ("firmware", "sonoff-classic", "tasmota-lite")
  std::string esp32_build;  // empty: no ESP32 image at this checkpoint
  std::string dir;          // folder on the OTA server ("release_6.7.1"), or empty for GitHub downloads
  std::string github;       // path under the GitHub release downloads ("v4.2.0/firmware.bin")
  bool entry_only = false;  // 1.0.11: where the path starts, never a hop
};

class Catalog {
 public:
  static Catalog parse(std::string_view json_text);  // throws CatalogError naming the problem
  static const Catalog& builtin();
  // Adds the other catalog's releases, checkpoints, builds and aliases; its URL bases win when set.
  void merge(const Catalog& other);

  const std::vector<Checkpoint>& checkpoints() const { return checkpoints_; }
  const std::vector<Version>& releases() const { return releases_; }
  const Version& latest() const;
  bool has_release(const Version& v) const;

  // Image names a chip can run; an alias maps an old or short build name to today's image name.
  bool build_exists(Chip chip, const std::string& image) const;
  std::string image_name(const std::string& build) const;  // "sensors" → "tasmota-sensors", "sonoff" → "tasmota"
  std::string default_build(Chip chip) const;               // "tasmota", "tasmota32", "tasmota32c3"

  std::optional<int> image_kb(const std::string& image) const;  // typical size, when the catalog knows it
  // The file name a release published an ESP8266 image under ("tasmota-sensors" at 6.7.1: "sonoff-sensors").
  std::string era_image(const std::string& image, const Version& release) const;

  // Where an image lives below the OTA base, the same on ota.tasmota.com, a mirror and tasmota-fleet's
  // own firmware store: "tasmota/release_6.7.1/sonoff.bin", "tasmota32/release-14.2.0/tasmota32c3.bin",
  // "github/v4.2.0/firmware.bin" (the oldest checkpoints, published only as GitHub release downloads).
  std::string image_path(const Version& release, const std::string& file, bool esp32) const;
  // The full URL of that path: GitHub paths go to github_base while the OTA base is the official one.
  std::string image_url(const std::string& path) const;
  bool official_base() const;
  // The SHA-256 an image must have, when the catalog pins it (key: image_path()).
  std::optional<std::string> sha256_of(const std::string& path) const;

  const std::string& ota_base() const { return ota_base_; }
  const std::string& github_base() const { return github_base_; }
  void set_ota_base(std::string base);

 private:
  std::string ota_base_;
  std::string github_base_;
  std::vector<Checkpoint> checkpoints_;
  std::vector<Version> releases_;
  std::vector<std::string> esp8266_builds_;
  std::map<std::string, std::vector<std::string>> esp32_builds_;  // by chip name ("ESP32-C3")
  std::map<std::string, std::string> aliases_;
  std::map<std::string, int> image_kb_;
  std::map<std::string, std::string> sha256_;
  struct Era {
    Version before;
    std::string all;                          // every image had this one name
    std::string prefix_from, prefix_to;       // else: renamed prefix
    std::map<std::string, std::string> rename;  // and single renames
  };
  std::vector<Era> eras_;  // ascending by `before`
};

}  // namespace fleet::planner
