#pragma once
// tasmota-fleet jobs [ID] [--json]: the upgrade jobs, newest first, or one job with its events (a
// read-only view of the database; the jobs themselves run in orchestrator/).
#include <cstdint>
#include <optional>
#include <string>

namespace fleet::cli {

int list_jobs(const std::string& db, std::optional<std::int64_t> id, bool json);

}  // namespace fleet::cli
