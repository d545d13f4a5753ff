#pragma once
// Device jobs run from the command line when no daemon does it: a broker connection of its own (a
// client id of its own, so the daemon stays connected) pumped into the same JobRunner the daemon uses,
// until every job is over, the broker cannot be reached or the time limit passes.
#include <cstdint>
#include <memory>
#include <vector>

#include "backup/backup_store.h"
#include "core/result.h"
#include "mqtt/broker_config.h"
#include "orchestrator/job_store.h"
#include "orchestrator/job_runner.h"

namespace fleet::orchestrator {

struct LocalRunOptions {
  mqtt::BrokerConfig broker;
  mqtt::TopicScheme scheme;
  int parallel = 8;
  std::int64_t overall_timeout_ms = 600'000;
  std::int64_t connect_timeout_ms = 10'000;  // no broker session by then: give up, saying so
};

void run_locally(const LocalRunOptions& options, const std::vector<std::shared_ptr<DeviceJob>>& jobs);

// One device's settings taken now by a backup job run here, validated as a backup is but not stored;
// or why not (backup_refusal, or the job's own problem).
Result<backup::BackupRecord> take_settings_now(const LocalRunOptions& options, JobStore& jobs, const inventory::DeviceRecord& device,
                                               const DeviceAccess& access, backup::BackupSettings settings);

}  // namespace fleet::orchestrator
