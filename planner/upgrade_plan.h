#pragma once
// The plan for one device: the hops through the checkpoint versions, the image URL of each hop, the
// steps around it and why, citing the upgrade rule (docs/planner.md). Pure: no I/O, no clock.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "planner/catalog.h"
#include "planner/chip.h"
#include "planner/version.h"

namespace fleet::planner {

enum class Step { Backup, Reset6, OtaUrl, Upgrade, AwaitRestart, VerifyVersion, HealthCheck, Restore, VerifySettings };
std::string_view to_string(Step step);
// The step of that name (exactly as to_string spells it); none for any other text.
std::optional<Step> step_from_string(std::string_view name);

struct Hop {
  Version version;
  std::string build;        // image name: "tasmota-lite", "tasmota32c3"
  std::string url;
  std::string minimal_url;  // set when the device may need the -minimal intermediate for this hop
  Version running;          // the firmware that performs this hop
  std::vector<Step> steps;
  std::vector<std::string> reasons;
};

struct DeviceState {
  std::string name;
  Version version;
  std::string build;  // as reported (normalized code image: "tasmota", "sensors", "sonoff", …); empty on 5.x
  Chip chip = Chip::ESP8266;
  std::optional<int> free_kb;           // free program space (Status 4 "Free")
  std::optional<int> program_kb;        // size of the running image (Status 4 "ProgramSize")
  std::optional<int> program_flash_kb;  // program partition (Status 4 "ProgramFlashSize")
};

struct PlanRequest {
  std::optional<Version> target;  // empty: the catalog's latest
  std::string target_build;       // empty: keep the device's build
};

struct UpgradePlan {
  std::string device;
  Version from;
  std::string from_build;  // image name
  Chip chip = Chip::Unknown;
  Version target;
  std::string target_build;
  std::vector<Hop> hops;
  std::vector<std::string> notes;
  std::string error;  // set when the device cannot be planned; then hops is empty
  bool ok() const { return error.empty(); }
};

class Planner {
 public:
  explicit Planner(const Catalog& catalog) : catalog_(catalog) {}
  UpgradePlan plan(const DeviceState& device, const PlanRequest& request) const;

 private:
  const Catalog& catalog_;
};

// Tasmota's way to find the minimal image beside a URL (tasmota-facts.md, OTA): newer firmware cuts the
// file name at its last '-' (else its last '.'); releases before 6.0 cut the whole URL at its last '-'.
std::string minimal_url(std::string_view url, bool whole_url_rule);

}  // namespace fleet::planner
