#pragma once
// The inventory in SQLite: devices by MAC, written in one transaction per batch.
#include <optional>
#include <string>
#include <vector>

#include "inventory/ports.h"
#include "store/database.h"

namespace fleet::store {

struct DaemonStatus {
  std::int64_t pid = 0;
  std::int64_t started_ms = 0;
  std::int64_t heartbeat_ms = 0;
  std::string broker;
  bool connected = false;
  std::int64_t messages = 0;
  std::int64_t rejected = 0;
  std::int64_t status_queries = 0;
  std::string ota_base;  // the built-in OTA server's URL base; empty when it does not run
  std::string firmware_dir;  // its firmware store (absolute)
};

class SqliteInventoryStore final : public inventory::InventoryStore {
 public:
  explicit SqliteInventoryStore(Database& db);

  std::vector<inventory::DeviceRecord> load_devices() override;
  void save_devices(const std::vector<inventory::DeviceRecord>& batch) override;
  void forget_device(const std::string& mac) override;

  void save_daemon_status(const DaemonStatus& status);
  std::optional<DaemonStatus> daemon_status();

 private:
  Database& db_;
  Statement upsert_;
};

}  // namespace fleet::store
