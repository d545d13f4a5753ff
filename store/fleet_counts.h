#pragma once
// Counts for the daemon's metrics, read in one go (a few grouped queries on indexed columns).
#include <cstdint>
#include <map>
#include <string>

#include "store/database.h"

namespace fleet::store {

struct FleetCounts {
  std::map<std::string, std::int64_t> jobs_by_status;      // upgrade jobs: running, done, failed, stopped
  std::map<std::string, std::int64_t> rollouts_by_status;  // ready, running, paused, finished, stopped
  // Device MAC -> when its newest backup was taken, or last found equal to the device's settings.
  std::map<std::string, std::int64_t> newest_backup_ms;
};

FleetCounts fleet_counts(Database& db);

}  // namespace fleet::store
