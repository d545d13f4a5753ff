#pragma once
// What the planner and the image check need from an inventory row. A row the planner cannot use
// yields a plan with the error set (named after the device), never an exception.
#include "firmware/image.h"
#include "inventory/device_record.h"
#include "planner/upgrade_plan.h"

namespace fleet::orchestrator {

planner::UpgradePlan plan_device(const planner::Planner& planner, const inventory::DeviceRecord& device,
                                 const planner::PlanRequest& request);
firmware::DeviceFit fit_of(const inventory::DeviceRecord& device);

}  // namespace fleet::orchestrator
