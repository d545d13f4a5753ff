#pragma once
// tasmota-fleet firmware fetch | check: the images a plan needs, fetched from upstream into the store,
// and checked against each device before any command goes to it.
#include <optional>
#include <string>
#include <vector>

#include "cli/firmware_cmd.h"
#include "firmware/image.h"
#include "planner/catalog.h"
#include "planner/upgrade_plan.h"

namespace fleet::cli {

struct PlannedDevice {
  planner::UpgradePlan plan;
  firmware::DeviceFit fit;  // what the device reported: chip, free program space, flash
};

// The store paths of a plan's images: each hop's image (required) and its -minimal image (when the
// hop may need the minimal step).
struct NeededImage {
  std::string path;
  std::string version;
  std::string build;
  bool esp32 = false;
  bool required = true;
};
std::vector<NeededImage> needed_images(const planner::Catalog& catalog, const std::vector<PlannedDevice>& plans);

// Downloads what is missing from `upstream` (the catalog's URL scheme, or --upstream); says exactly which
// files are still missing and where to put them. Exit 0 when every required image is in the store.
int firmware_fetch(const FirmwareOptions& o, const planner::Catalog& upstream, const std::vector<PlannedDevice>& plans);
// Every hop's image present and suitable for its device (chip, flash, free space unless the minimal
// step is planned and its image present). Exit 0 when all are.
int firmware_check(const FirmwareOptions& o, const planner::Catalog& catalog, const std::vector<PlannedDevice>& plans);

}  // namespace fleet::cli
