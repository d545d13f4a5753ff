#pragma once
// tasmota-fleet rollout start|list|show|pause|resume|abort|retry, upgrade DEVICE…, log: the command line
// as a client of the control API when a daemon runs, else running the same orchestrator in-process
// (holding the rollout's lease) until the rollout ends. Read-only views come from the database.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "orchestrator/daemon.h"

namespace fleet::cli {

struct RolloutCommand {
  std::string action;         // start, upgrade, pause, resume, abort, retry
  nlohmann::json spec;        // start, upgrade: the rollout's spec as the control API takes it
  std::int64_t id = 0;        // pause … retry
  bool dry_run = false;
  bool follow = false;        // start: follow it live (upgrade always does)
  bool json = false;
  bool verbose = false;       // follow: commands and replies too
};

// Exit 0: done (every device on its target or skipped); 1: a device failed, or the rollout paused or stopped;
// 2: bad usage (a refused request).
int run_rollout_command(const RolloutCommand& command, orchestrator::DaemonOptions daemon, const std::atomic<bool>& stop);
int list_rollouts(const std::string& db, bool json);
int show_rollout(const std::string& db, std::int64_t id, bool json);
int show_log(const std::string& db, const std::optional<std::string>& device, std::optional<std::int64_t> rollout, bool json);

}  // namespace fleet::cli
