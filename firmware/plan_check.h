#pragma once
// Are a plan's images ready? Every hop's image in the store, readable, a valid image of the device's
// chip, and fitting the device (or a -minimal path): what `firmware check` prints and what a rollout's
// preflight refuses a device for, before its first command.
#include <map>
#include <string>
#include <vector>

#include "firmware/firmware_store.h"
#include "firmware/image.h"
#include "planner/upgrade_plan.h"

namespace fleet::firmware {

// The store path of a hop's image (or of its -minimal image, given its URL).
std::string hop_path(const planner::Catalog& catalog, const planner::UpgradePlan& plan, const planner::Hop& hop,
                     const std::string& url);
// Empty when every hop is ready; else one line per problem ("hop 9.1.0: <path> is not in the firmware store …").
// `cache`: inspections by store path, kept across calls (a store path never changes its image, so a rollout
// reads and inflates each image once, not once per device).
using InspectionCache = std::map<std::string, Inspection>;
std::vector<std::string> check_plan_images(FirmwareStore& store, const planner::Catalog& catalog,
                                           const planner::UpgradePlan& plan, const DeviceFit& fit,
                                           InspectionCache* cache = nullptr);

}  // namespace fleet::firmware
