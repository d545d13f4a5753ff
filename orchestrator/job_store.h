#pragma once
// Where upgrade jobs keep their persisted state and history (SQLite: store/sqlite_job_store.h).
#include <cstdint>
#include <string>
#include <vector>

namespace fleet::orchestrator {

class JobStore {
 public:
  virtual ~JobStore() = default;
  // Committed when it returns: the caller may then send the command this state announces.
  virtual void save(std::int64_t id, const std::string& state, const std::string& status, std::int64_t now_ms) = 0;
  virtual void add_events(std::int64_t id, const std::vector<std::string>& texts, std::int64_t now_ms) = 0;
};

}  // namespace fleet::orchestrator
