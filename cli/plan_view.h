#pragma once
// How `tasmota-fleet plan` shows plans: JSON for scripts (the interface others build on), a table with
// the reasons for people.
#include <string>
#include <vector>

#include "inventory/device_record.h"
#include "planner/upgrade_plan.h"

namespace fleet::cli {

std::string render_plans_json(const std::vector<planner::UpgradePlan>& plans);
std::string render_plans_text(const std::vector<planner::UpgradePlan>& plans);

// What the planner needs from an inventory row; a row the planner cannot use yields a plan with the
// error set (named after the device), never an exception.
planner::UpgradePlan plan_device(const planner::Planner& planner, const inventory::DeviceRecord& device,
                                 const planner::PlanRequest& request);

}  // namespace fleet::cli
