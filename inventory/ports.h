#pragma once
// The small interfaces the inventory (and later the orchestrator) drive. Adapters implement them:
// Paho for Transport, SQLite for InventoryStore, the system clock for Clock; unit tests use fakes.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "inventory/device_record.h"

namespace fleet::inventory {

class Transport {
 public:
  virtual ~Transport() = default;
  // Fire and forget (QoS 0); must not block the caller.
  virtual void publish(const std::string& topic, const std::string& payload) = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now_ms() const = 0;  // Unix time in milliseconds
};

class SystemClock final : public Clock {
 public:
  std::int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class InventoryStore {
 public:
  virtual ~InventoryStore() = default;
  virtual std::vector<DeviceRecord> load_devices() = 0;
  // One transaction for the whole batch: telemetry bursts must not cost a commit per message.
  virtual void save_devices(const std::vector<DeviceRecord>& batch) = 0;
};

}  // namespace fleet::inventory
