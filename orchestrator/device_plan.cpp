#include "orchestrator/device_plan.h"

namespace fleet::orchestrator {

planner::UpgradePlan plan_device(const planner::Planner& planner, const inventory::DeviceRecord& d,
                                 const planner::PlanRequest& request) {
  std::string name = d.topic.value_or(d.mac);
  auto failed = [&](std::string why) {
    planner::UpgradePlan p;
    p.device = name;
    p.error = name + ": " + why;
    return p;
  };
  if (!d.version) return failed("firmware version not known yet (the device has not answered Status 0)");
  auto v = planner::Version::parse(*d.version);
  if (!v) return failed("unknown version '" + *d.version + "'");
  planner::DeviceState s;
  s.name = name;
  s.version = *v;
  s.build = d.build.value_or("");
  s.chip = d.chip ? planner::parse_chip(*d.chip) : planner::Chip::Unknown;
  if (d.free_kb) s.free_kb = static_cast<int>(*d.free_kb);
  if (d.program_kb) s.program_kb = static_cast<int>(*d.program_kb);
  if (d.program_flash_kb) s.program_flash_kb = static_cast<int>(*d.program_flash_kb);
  return planner.plan(s, request);
}

firmware::DeviceFit fit_of(const inventory::DeviceRecord& d) {
  firmware::DeviceFit f;
  f.chip = d.chip ? planner::parse_chip(*d.chip) : planner::Chip::Unknown;
  if (d.free_kb) f.free_kb = static_cast<int>(*d.free_kb);
  if (d.program_kb) f.program_kb = static_cast<int>(*d.program_kb);
  if (d.flash_kb) f.flash_kb = static_cast<int>(*d.flash_kb);
  return f;
}

}  // namespace fleet::orchestrator
