#pragma once
// How `tasmota-fleet plan` shows plans: JSON for scripts (the interface others build on), a table with
// the reasons for people.
#include <string>
#include <vector>

#include "inventory/device_record.h"
#include "orchestrator/device_plan.h"
#include "planner/upgrade_plan.h"

namespace fleet::cli {

std::string render_plans_json(const std::vector<planner::UpgradePlan>& plans);
std::string render_plans_text(const std::vector<planner::UpgradePlan>& plans);

using orchestrator::plan_device;

}  // namespace fleet::cli
