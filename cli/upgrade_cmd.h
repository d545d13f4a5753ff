#pragma once
// tasmota-fleet upgrade DEVICE --to VERSION: the careful upgrade of one device, hop by hop along its
// plan (orchestrator/upgrade_job.h), durable: a run that was killed is resumed by the next one.
#include <optional>
#include <string>
#include <vector>

#include "cli/backup_cmd.h"
#include "orchestrator/upgrade_job.h"
#include "planner/upgrade_plan.h"

namespace fleet::cli {

struct UpgradeOptions {
  BackupOptions base;  // database, broker, topics, device access
  bool dry_run = false;
};

// `plan`: the device's plan (used only when no job is running for it: a running job is resumed with
// the plan it was started with). Exit 0 when the job is done, 1 when it failed or was refused.
int run_upgrade(const UpgradeOptions& options, const inventory::DeviceRecord& device, const planner::UpgradePlan& plan);

}  // namespace fleet::cli

namespace fleet::cli {

// tasmota-fleet jobs [ID] [--json]: the upgrade jobs, newest first, or one job with its events.
int list_jobs(const std::string& db, std::optional<std::int64_t> id, bool json);

}  // namespace fleet::cli
